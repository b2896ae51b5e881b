export { PodRunner, type PodRunnerOptions } from './pod-runner.js';
export type { RunningPod } from './running-pod.js';
