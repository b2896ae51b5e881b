import { errorCode } from './errors.js';
import { Backoff } from './backoff.js';

/** What a reconcile asks of the queue besides "done". */
export interface ReconcileResult {
  /** Reconcile the key again after this long (e.g. to follow a rollout). */
  requeueAfterMs?: number;
}

export type ReconcileHandler = (key: string) => Promise<ReconcileResult | void>;

export interface WorkQueueOptions {
  concurrency?: number;
  /** Per-key retry backoff after a failed reconcile. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Overall token bucket: at most `burst` reconciles at once, refilled at `qps`. */
  qps?: number;
  burst?: number;
  onError?: (key: string, error: unknown) => void;
}

/**
 * A work queue of object keys in the manner of client-go's: a key queued several times is
 * processed once, a key is never processed by two workers at once (an add while it runs queues
 * it again for afterwards), failures requeue with per-key exponential backoff, and a token
 * bucket bounds the overall rate so a storm of events cannot hammer the API server.
 */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly active = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, Backoff>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly idleWaiters: (() => void)[] = [];
  private readonly concurrency: number;
  private readonly qps: number;
  private readonly burst: number;
  private tokens: number;
  private lastRefill = Date.now();
  private refillTimer?: NodeJS.Timeout;
  private handler?: ReconcileHandler;
  private stopped = false;

  constructor(private readonly options: WorkQueueOptions = {}) {
    this.concurrency = options.concurrency ?? 4;
    this.qps = options.qps ?? 20;
    this.burst = options.burst ?? 100;
    this.tokens = this.burst;
  }

  /** Starts workers calling `handler`; keys added before are processed now. */
  start(handler: ReconcileHandler): void {
    this.handler = handler;
    this.stopped = false;
    this.pump();
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.active.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    const pending = this.delayed.get(key);
    if (pending) {
      clearTimeout(pending.timer);
      this.delayed.delete(key);
    }
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Queues the key after `ms`, keeping an earlier pending time if there is one. */
  addAfter(key: string, ms: number): void {
    if (this.stopped) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.delayed.set(key, { at, timer });
  }

  get length(): number {
    return this.queue.length;
  }

  /** Keys queued, waiting or running. */
  pendingKeys(): string[] {
    return [...new Set([...this.queue, ...this.delayed.keys(), ...this.active])];
  }

  /** Stops taking work, drops what waits, and resolves once running reconciles are done. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    this.queued.clear();
    this.dirty.clear();
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    clearTimeout(this.refillTimer);
    if (this.active.size > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
  }

  private takeToken(): boolean {
    const now = Date.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastRefill) / 1000) * this.qps);
    this.lastRefill = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    if (!this.refillTimer) {
      this.refillTimer = setTimeout(
        () => {
          this.refillTimer = undefined;
          this.pump();
        },
        Math.ceil(((1 - this.tokens) / this.qps) * 1000),
      );
    }
    return false;
  }

  private pump(): void {
    while (
      !this.stopped &&
      this.handler &&
      this.active.size < this.concurrency &&
      this.queue.length > 0 &&
      this.takeToken()
    ) {
      const key = this.queue.shift()!;
      this.queued.delete(key);
      this.active.add(key);
      void this.run(this.handler, key);
    }
  }

  private async run(handler: ReconcileHandler, key: string): Promise<void> {
    let retryAfter: number | undefined;
    let failed = false;
    try {
      const result = await handler(key);
      this.failures.delete(key);
      retryAfter = result?.requeueAfterMs;
    } catch (error) {
      let backoff = this.failures.get(key);
      if (!backoff) {
        backoff = new Backoff(
          this.options.retryInitialMs ?? 200,
          this.options.retryMaxMs ?? 60_000,
        );
        this.failures.set(key, backoff);
      }
      retryAfter = backoff.next();
      failed = true;
      // A 409 means another writer got there first: the retry reads the new version. It is how
      // optimistic concurrency works, not a failure worth reporting.
      if (errorCode(error) !== 409) this.options.onError?.(key, error);
    } finally {
      this.active.delete(key);
    }
    // A failing key waits out its backoff even when events keep arriving for it.
    if (this.dirty.delete(key) && !failed) this.add(key);
    else if (retryAfter !== undefined) this.addAfter(key, retryAfter);
    if (this.active.size === 0) for (const w of this.idleWaiters.splice(0)) w();
    this.pump();
  }
}
