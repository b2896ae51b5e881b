// One pod as processes on this host: init containers in order, then every container, each
// restarted by the pod's restartPolicy, probed as its spec says, and stopped with preStop,
// SIGTERM and, after the grace period, SIGKILL. Probe periods run five times faster than
// written (at least every 0.5 s) so scenarios take seconds, not minutes.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { basename, join } from 'node:path';
import type { KObject } from '../apiserver/types.js';
import { imageRuntime, nodeOptions, writeBinaries, type ImageRuntime } from './images.js';
import type { KubeClient } from './kube-client.js';
import {
  containerEnv,
  containerMounts,
  expandReferences,
  materialiseVolumes,
  PodSpecError,
  rewriteForHost,
  type Mount,
  type Obj,
} from './pod-spec.js';

const PROBE_SPEEDUP = 5;
const MIN_PROBE_PERIOD_MS = 500;
const MAX_RESTART_BACKOFF_MS = 10_000;

export interface PodEnvironment {
  kube: KubeClient;
  /** kubeconfig for programs that talk to the API (the emulator serves no service-account tokens). */
  kubeconfig: string;
  /** Host directory of a PersistentVolumeClaim. */
  claimDir(namespace: string, claim: string): string;
  /** Called whenever the pod's status may have changed. */
  onChange(pod: RunningPod): void;
}

interface Prepared {
  argv: string[];
  env: Record<string, string>;
  cwd: string;
  mounts: Mount[];
  runtime: ImageRuntime;
}

type State =
  | { kind: 'waiting'; reason: string; message?: string }
  | { kind: 'running'; startedAt: string }
  | { kind: 'terminated'; exitCode: number; reason: string; finishedAt: string };

class Container {
  child?: ChildProcess;
  state: State = { kind: 'waiting', reason: 'ContainerCreating' };
  restartCount = 0;
  started = false;
  ready = false;
  prepared?: Prepared;
  private timers: NodeJS.Timeout[] = [];

  constructor(
    readonly spec: Obj,
    readonly init: boolean,
  ) {}

  get name(): string {
    return this.spec.name as string;
  }

  addTimer(t: NodeJS.Timeout): void {
    this.timers.push(t);
  }

  clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }
}

function probePeriodMs(probe: Obj): number {
  return Math.max(
    MIN_PROBE_PERIOD_MS,
    (((probe.periodSeconds as number) ?? 10) * 1000) / PROBE_SPEEDUP,
  );
}

export class RunningPod {
  readonly dir: string;
  private readonly containers: Container[];
  private stopping = false;
  private volumeDirs = new Map<string, string>();
  private specError?: PodSpecError;
  readonly startTime = new Date().toISOString();
  /** Set once a pod that does not restart has finished: Succeeded or Failed. */
  finished?: 'Succeeded' | 'Failed';

  constructor(
    readonly pod: KObject,
    readonly ip: string,
    runDir: string,
    private readonly env: PodEnvironment,
  ) {
    this.dir = join(runDir, 'pods', `${pod.metadata.namespace}_${pod.metadata.name}`);
    const spec = pod.spec as Obj;
    this.containers = [
      ...((spec.initContainers ?? []) as Obj[]).map((c) => new Container(c, true)),
      ...((spec.containers ?? []) as Obj[]).map((c) => new Container(c, false)),
    ];
  }

  get name(): string {
    return this.pod.metadata.name!;
  }

  get namespace(): string {
    return this.pod.metadata.namespace!;
  }

  get uid(): string {
    return this.pod.metadata.uid!;
  }

  get restartPolicy(): string {
    return ((this.pod.spec as Obj).restartPolicy as string) ?? 'Always';
  }

  get ready(): boolean {
    const main = this.containers.filter((c) => !c.init);
    return !this.stopping && main.length > 0 && main.every((c) => c.ready);
  }

  get terminating(): boolean {
    return this.stopping;
  }

  /** The pod's log: every container's output, for test failure messages. */
  logs(): string {
    return this.containers
      .map((c) => {
        try {
          return `--- ${c.name}\n${readFileSync(join(this.dir, 'logs', `${c.name}.log`), 'utf8')}`;
        } catch {
          return `--- ${c.name}: no output`;
        }
      })
      .join('\n');
  }

  async start(): Promise<void> {
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    try {
      await this.refreshVolumes();
      for (const c of this.containers) c.prepared = await this.prepare(c);
    } catch (e) {
      if (!(e instanceof PodSpecError)) throw e;
      this.specError = e;
      for (const c of this.containers)
        c.state = { kind: 'waiting', reason: e.reason, message: e.message };
      this.env.onChange(this);
      return;
    }
    if (!this.stopping) void this.runContainers();
  }

  /** Rewrites Secret and ConfigMap volumes whose data changed, as the kubelet's sync does. */
  async refreshVolumes(): Promise<void> {
    this.volumeDirs = await materialiseVolumes(this.env.kube, this.pod, this.dir, (claim) =>
      this.env.claimDir(this.namespace, claim),
    );
  }

  private async prepare(c: Container): Promise<Prepared> {
    const image = c.spec.image as string;
    const runtime = imageRuntime(image);
    if (!runtime)
      throw new PodSpecError('ErrImagePull', `image ${image} has no program on this host`);
    const binDir = join(this.dir, 'bin', c.name);
    writeBinaries(runtime, binDir);
    const mounts = containerMounts(c.spec, this.volumeDirs);
    const specEnv = await containerEnv(this.env.kube, this.pod, c.spec, this.ip);
    const host = (v: string) => rewriteForHost(v, mounts, this.ip);
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(specEnv)) env[k] = host(v);
    const command = ((c.spec.command as string[]) ?? runtime.entrypoint ?? []).map((a) =>
      host(expandReferences(a, env)),
    );
    const args = ((c.spec.args as string[]) ?? []).map((a) => host(expandReferences(a, env)));
    if (command.length === 0)
      throw new PodSpecError('InvalidImage', `container ${c.name} has no command`);
    const program = basename(command[0]);
    if (program in runtime.binaries) command[0] = join(binDir, program);
    const tmp = mounts.find((m) => m.path === '/tmp')?.hostPath ?? join(this.dir, 'tmp');
    mkdirSync(tmp, { recursive: true });
    Object.assign(env, {
      PATH: `${binDir}:${process.env.PATH ?? '/usr/bin:/bin'}`,
      HOME: this.dir,
      TMPDIR: tmp,
      HOSTNAME: this.name,
      KUBECONFIG: this.env.kubeconfig,
      KAFSCALE_E2E_POD_IP: this.ip,
      ...(runtime.node ? { NODE_OPTIONS: nodeOptions() } : {}),
    });
    return { argv: [...command, ...args], env, cwd: runtime.workingDir, mounts, runtime };
  }

  private async runContainers(): Promise<void> {
    for (const c of this.containers.filter((x) => x.init)) {
      const code = await this.runToCompletion(c);
      if (this.stopping) return;
      if (code !== 0) {
        this.finished = 'Failed';
        this.env.onChange(this);
        return;
      }
    }
    for (const c of this.containers.filter((x) => !x.init)) this.launch(c);
  }

  private spawnContainer(c: Container): ChildProcess {
    const p = c.prepared!;
    const log = openSync(join(this.dir, 'logs', `${c.name}.log`), 'a');
    const child = spawn(p.argv[0], p.argv.slice(1), {
      env: p.env,
      cwd: p.cwd,
      detached: true,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    child.on('error', () => undefined);
    c.child = child;
    c.started = false;
    c.ready = false;
    c.state = { kind: 'running', startedAt: new Date().toISOString() };
    this.env.onChange(this);
    return child;
  }

  private runToCompletion(c: Container): Promise<number> {
    const child = this.spawnContainer(c);
    return new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.recordExit(c, code, signal);
        resolve(code ?? 128);
      });
    });
  }

  private recordExit(c: Container, code: number | null, signal: NodeJS.Signals | null): void {
    c.child = undefined;
    c.ready = false;
    c.clearTimers();
    const exitCode = code ?? 128 + (signal === 'SIGKILL' ? 9 : 15);
    c.state = {
      kind: 'terminated',
      exitCode,
      reason: exitCode === 0 ? 'Completed' : 'Error',
      finishedAt: new Date().toISOString(),
    };
  }

  private launch(c: Container): void {
    if (this.stopping) return;
    const child = this.spawnContainer(c);
    this.startProbes(c);
    child.once('exit', (code, signal) => {
      this.recordExit(c, code, signal);
      if (this.stopping) return;
      const exitCode = c.state.kind === 'terminated' ? c.state.exitCode : 1;
      const restart =
        this.restartPolicy === 'Always' || (this.restartPolicy === 'OnFailure' && exitCode !== 0);
      if (!restart) {
        const main = this.containers.filter((x) => !x.init);
        if (main.every((x) => x.state.kind === 'terminated')) {
          const failed = main.some((x) => x.state.kind === 'terminated' && x.state.exitCode !== 0);
          this.finished = failed ? 'Failed' : 'Succeeded';
        }
        this.env.onChange(this);
        return;
      }
      c.restartCount++;
      this.env.onChange(this);
      const backoff = Math.min(MAX_RESTART_BACKOFF_MS, 1000 * 2 ** Math.min(c.restartCount - 1, 4));
      c.addTimer(setTimeout(() => !this.stopping && this.launch(c), backoff));
    });
  }

  private startProbes(c: Container): void {
    const { startupProbe, readinessProbe, livenessProbe } = c.spec as Record<
      string,
      Obj | undefined
    >;
    const child = c.child;
    const alive = () => !this.stopping && c.child === child;
    const schedule = (probe: Obj, onResult: (ok: boolean) => boolean, first = true) => {
      const delay = first
        ? (((probe.initialDelaySeconds as number) ?? 0) * 1000) / PROBE_SPEEDUP
        : probePeriodMs(probe);
      c.addTimer(
        setTimeout(async () => {
          if (!alive()) return;
          const ok = await this.probe(c, probe);
          if (alive() && onResult(ok)) schedule(probe, onResult, false);
        }, delay),
      );
    };
    const afterStartup = () => {
      c.started = true;
      if (!readinessProbe) c.ready = true;
      this.env.onChange(this);
      if (readinessProbe) {
        let failures = 0;
        let successes = 0;
        schedule(readinessProbe, (ok) => {
          failures = ok ? 0 : failures + 1;
          successes = ok ? successes + 1 : 0;
          const ready = ok
            ? successes >= ((readinessProbe.successThreshold as number) ?? 1) || c.ready
            : failures < ((readinessProbe.failureThreshold as number) ?? 3) && c.ready;
          if (ready !== c.ready) {
            c.ready = ready;
            this.env.onChange(this);
          }
          return true;
        });
      }
      if (livenessProbe) {
        let failures = 0;
        schedule(livenessProbe, (ok) => {
          failures = ok ? 0 : failures + 1;
          if (failures < ((livenessProbe.failureThreshold as number) ?? 3)) return true;
          this.restartContainer(c);
          return false;
        });
      }
    };
    if (!startupProbe) {
      afterStartup();
      return;
    }
    let failures = 0;
    schedule(startupProbe, (ok) => {
      if (ok) {
        afterStartup();
        return false;
      }
      if (++failures >= ((startupProbe.failureThreshold as number) ?? 3)) {
        this.kill(c, 'SIGTERM');
        return false;
      }
      return true;
    });
  }

  private portNumber(c: Container, port: unknown): number {
    if (typeof port === 'number') return port;
    if (/^\d+$/.test(String(port))) return Number(port);
    const ports = (c.spec.ports ?? []) as Obj[];
    const found = ports.find((p) => p.name === port);
    return (found?.containerPort as number) ?? -1;
  }

  private async probe(c: Container, probe: Obj): Promise<boolean> {
    const timeoutMs = ((probe.timeoutSeconds as number) ?? 1) * 1000;
    const runtime = c.prepared!.runtime;
    try {
      if (probe.httpGet) {
        const get = probe.httpGet as Obj;
        const path = (get.path as string) ?? '/';
        const mapped = runtime.probePaths?.[path] ?? path;
        const scheme = ((get.scheme as string) ?? 'HTTP').toLowerCase();
        const res = await fetch(`${scheme}://${this.ip}:${this.portNumber(c, get.port)}${mapped}`, {
          signal: AbortSignal.timeout(timeoutMs),
        });
        await res.arrayBuffer();
        return res.status >= 200 && res.status < 400;
      }
      if (probe.tcpSocket) {
        const port = this.portNumber(c, (probe.tcpSocket as Obj).port);
        return await new Promise<boolean>((resolve) => {
          const socket = net.connect({ host: this.ip, port, timeout: timeoutMs });
          socket.once('connect', () => (socket.destroy(), resolve(true)));
          socket.once('error', () => resolve(false));
          socket.once('timeout', () => (socket.destroy(), resolve(false)));
        });
      }
      if (probe.exec) {
        return (await this.exec(c, (probe.exec as Obj).command as string[], timeoutMs)) === 0;
      }
    } catch {
      return false;
    }
    return true;
  }

  /** Runs a command in the container's environment (probes, preStop hooks). */
  private exec(c: Container, command: string[], timeoutMs: number): Promise<number> {
    const p = c.prepared!;
    const argv = command.map((a) => rewriteForHost(a, p.mounts, this.ip));
    const program = basename(argv[0]);
    if (program in p.runtime.binaries) argv[0] = join(this.dir, 'bin', c.name, program);
    return new Promise((resolve) => {
      const child = spawn(argv[0], argv.slice(1), { env: p.env, cwd: p.cwd, stdio: 'ignore' });
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('error', () => (clearTimeout(timer), resolve(127)));
      child.once('exit', (code) => (clearTimeout(timer), resolve(code ?? 1)));
    });
  }

  private kill(c: Container, signal: NodeJS.Signals): void {
    const pid = c.child?.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // Already gone.
    }
  }

  /** A failed liveness or startup probe: SIGTERM, then SIGKILL after the grace period. */
  private restartContainer(c: Container): void {
    this.kill(c, 'SIGTERM');
    const grace = ((this.pod.spec as Obj).terminationGracePeriodSeconds as number) ?? 30;
    c.addTimer(setTimeout(() => this.kill(c, 'SIGKILL'), grace * 1000));
  }

  /** Kills the pod's main process at once, as a crash or an OOM kill would. */
  crash(containerName?: string): void {
    for (const c of this.containers)
      if (!containerName || c.name === containerName) this.kill(c, 'SIGKILL');
  }

  /**
   * Stops the pod as the kubelet does: preStop hooks, SIGTERM, SIGKILL once the grace period
   * (terminationGracePeriodSeconds, 30 by default) has passed since the stop began.
   */
  async terminate(graceSeconds?: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.env.onChange(this);
    const grace =
      (graceSeconds ?? ((this.pod.spec as Obj).terminationGracePeriodSeconds as number) ?? 30) *
      1000;
    const deadline = Date.now() + grace;
    const running = this.containers.filter((c) => c.child);
    for (const c of this.containers) {
      c.clearTimers();
      c.ready = false;
    }
    await Promise.all(
      running.map(async (c) => {
        const preStop = ((c.spec.lifecycle as Obj | undefined)?.preStop as Obj | undefined)
          ?.exec as Obj | undefined;
        if (preStop && grace > 0) await this.exec(c, preStop.command as string[], grace);
        const child = c.child;
        if (!child) return;
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        this.kill(c, 'SIGTERM');
        const left = Math.max(0, deadline - Date.now());
        const timer = setTimeout(() => this.kill(c, 'SIGKILL'), left);
        await exited;
        clearTimeout(timer);
      }),
    );
  }

  /** The Pod's `status` as a kubelet reports it. */
  status(): Obj {
    const main = this.containers.filter((c) => !c.init);
    const phase =
      this.finished ??
      (this.specError || main.some((c) => c.state.kind === 'waiting') ? 'Pending' : 'Running');
    const condition = (type: string, ok: boolean) => ({ type, status: ok ? 'True' : 'False' });
    const containerStatus = (c: Container) => ({
      name: c.name,
      image: c.spec.image,
      imageID: '',
      ready: c.ready,
      started: c.started,
      restartCount: c.restartCount,
      state:
        c.state.kind === 'running'
          ? { running: { startedAt: c.state.startedAt } }
          : c.state.kind === 'waiting'
            ? {
                waiting: {
                  reason: c.state.reason,
                  ...(c.state.message ? { message: c.state.message } : {}),
                },
              }
            : {
                terminated: {
                  exitCode: c.state.exitCode,
                  reason: c.state.reason,
                  finishedAt: c.state.finishedAt,
                },
              },
    });
    return {
      phase,
      hostIP: '127.0.0.1',
      podIP: this.ip,
      podIPs: [{ ip: this.ip }],
      startTime: this.startTime,
      conditions: [
        condition('PodScheduled', true),
        condition(
          'Initialized',
          this.containers.filter((c) => c.init).every((c) => c.state.kind === 'terminated'),
        ),
        condition('ContainersReady', this.ready),
        condition('Ready', this.ready),
      ],
      ...(this.containers.some((c) => c.init)
        ? { initContainerStatuses: this.containers.filter((c) => c.init).map(containerStatus) }
        : {}),
      containerStatuses: main.map(containerStatus),
    };
  }
}
