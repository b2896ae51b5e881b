export * from './backoff.js';
export * from './controller.js';
export * from './errors.js';
export * from './informer.js';
export * from './leader-election.js';
export * from './manager.js';
export * from './work-queue.js';
