// Object store health from every request the store makes (retries included), judged over a
// sliding window: Healthy, Degraded or Unavailable by error rate and average latency. Produce is
// refused while Unavailable, so the window can go quiet exactly when S3 is down; an empty or
// sparse window counts as healthy, and while anything is wrong the monitor probes the store
// itself so the verdict follows the store, not the absence of traffic.

import type { ObjectStoreOp } from '../storage/object-store.js';
import { ObjectNotFoundError } from '../storage/object-store.js';
import type { Logger } from '../logger.js';
import { SlidingWindow } from './sliding-window.js';

export const S3HealthState = { Healthy: 0, Degraded: 1, Unavailable: 2 } as const;
export type S3HealthState = (typeof S3HealthState)[keyof typeof S3HealthState];

const STATE_NAMES = ['healthy', 'degraded', 'unavailable'] as const;

export function stateName(state: S3HealthState): string {
  return STATE_NAMES[state];
}

export type RequestOutcome = 'success' | 'not_found' | 'error';

/** A missing key is an answer, not a failure of the store. */
export function requestOutcome(error: unknown): RequestOutcome {
  if (error === undefined) return 'success';
  if (error instanceof ObjectNotFoundError) return 'not_found';
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  if (e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404) return 'not_found';
  return 'error';
}

export interface S3HealthThresholds {
  windowMs: number;
  latencyWarnMs: number;
  latencyCritMs: number;
  errorRateWarn: number;
  errorRateCrit: number;
  /**
   * After this many consecutive fast, successful requests a store that has been Unavailable for
   * at least a second is trusted again and its failures are forgotten, instead of refusing
   * produce until they age out of the window: while produce is refused only probes reach the
   * store, too few to dilute the failures (default 3; with probes once a second, recovery within
   * seconds of S3 coming back). Degraded is judged by the window alone.
   */
  recoverAfter?: number;
  /**
   * The window is judged as if it held at least this many requests, the missing ones fast and
   * successful: one failed request out of three is not a 33% error rate worth refusing produce
   * for. Default 20, so a single error can reach the default critical rate (5%) but not exceed
   * it. Unlike ignoring sparse windows, more successes can only ever improve the verdict.
   */
  minRequests?: number;
}

export interface S3HealthSnapshot {
  state: S3HealthState;
  requests: number;
  errors: number;
  /** 0..1 over the window; 0 when the window is empty. */
  errorRate: number;
  /** Average request latency over the window in ms; 0 when the window is empty. */
  avgLatencyMs: number;
}

export interface S3HealthOptions extends S3HealthThresholds {
  logger?: Logger;
  now?: () => number;
  /** Called on every state change, after it is logged. */
  onChange?: (from: S3HealthState, to: S3HealthState, snapshot: S3HealthSnapshot) => void;
}

export class S3HealthMonitor {
  private readonly window: SlidingWindow;
  private readonly minRequests: number;
  private current: S3HealthState = S3HealthState.Healthy;
  private timer?: NodeJS.Timeout;
  private probing = false;
  private consecutiveSuccesses = 0;
  private unavailableSince = 0;
  private readonly recoverAfter: number;
  /** State changes since start, by the state entered. */
  readonly transitions = [0, 0, 0];

  constructor(private readonly options: S3HealthOptions) {
    if (!(options.latencyWarnMs < options.latencyCritMs))
      throw new Error('latencyWarnMs must be below latencyCritMs');
    if (!(options.errorRateWarn < options.errorRateCrit))
      throw new Error('errorRateWarn must be below errorRateCrit');
    this.window = new SlidingWindow(options.windowMs, options.now);
    this.minRequests = options.minRequests ?? 20;
    this.recoverAfter = options.recoverAfter ?? 3;
  }

  /** The object store observer: one call per backend request. */
  readonly record = (_op: ObjectStoreOp, durationMs: number, error?: unknown): void => {
    const failed = requestOutcome(error) === 'error';
    this.consecutiveSuccesses =
      failed || durationMs >= this.options.latencyWarnMs ? 0 : this.consecutiveSuccesses + 1;
    const outageMs = this.now() - this.unavailableSince;
    if (
      this.current === S3HealthState.Unavailable &&
      outageMs >= 1000 &&
      this.consecutiveSuccesses >= this.recoverAfter
    ) {
      this.window.clear();
    }
    this.window.add(durationMs, failed);
    this.evaluate();
  };

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  get state(): S3HealthState {
    return this.evaluate().state;
  }

  /** Recomputes the state from the window (state changes are logged and reported here). */
  evaluate(): S3HealthSnapshot {
    const totals = this.window.totals();
    const snapshot: S3HealthSnapshot = {
      state: S3HealthState.Healthy,
      requests: totals.count,
      errors: totals.errors,
      errorRate: totals.count ? totals.errors / totals.count : 0,
      avgLatencyMs: totals.count ? totals.sum / totals.count : 0,
    };
    snapshot.state = this.judge(snapshot);
    if (snapshot.state !== this.current) {
      const from = this.current;
      this.current = snapshot.state;
      this.transitions[snapshot.state]++;
      if (snapshot.state === S3HealthState.Unavailable) this.unavailableSince = this.now();
      this.log(from, snapshot);
      this.options.onChange?.(from, snapshot.state, snapshot);
    }
    return snapshot;
  }

  private judge(s: S3HealthSnapshot): S3HealthState {
    const o = this.options;
    const weight = s.requests / Math.max(s.requests, this.minRequests);
    const errorRate = s.errorRate * weight;
    const latencyMs = s.avgLatencyMs * weight;
    if (errorRate > o.errorRateCrit || latencyMs > o.latencyCritMs)
      return S3HealthState.Unavailable;
    if (errorRate >= o.errorRateWarn || latencyMs >= o.latencyWarnMs) return S3HealthState.Degraded;
    return S3HealthState.Healthy;
  }

  private log(from: S3HealthState, s: S3HealthSnapshot): void {
    const logger = this.options.logger;
    if (!logger) return;
    const meta = {
      from: stateName(from),
      to: stateName(s.state),
      requests: s.requests,
      errorRate: Number(s.errorRate.toFixed(4)),
      avgLatencyMs: Math.round(s.avgLatencyMs),
      windowSec: this.options.windowMs / 1000,
    };
    if (s.state === S3HealthState.Unavailable) logger.error('object store unavailable', meta);
    else if (s.state === S3HealthState.Degraded) logger.warn('object store degraded', meta);
    else logger.info('object store healthy', meta);
  }

  /**
   * Re-evaluates every intervalMs, so a state times out of the window even without requests, and
   * calls probe (one at a time) while the state is not Healthy or the window holds errors.
   */
  start(probe: () => Promise<unknown>, intervalMs: number): void {
    this.stop();
    this.timer = setInterval(() => {
      const s = this.evaluate();
      if ((s.state !== S3HealthState.Healthy || s.errors > 0) && !this.probing) {
        this.probing = true;
        // A failed probe is recorded by the store's observer; nothing else to do with it.
        probe()
          .catch(() => undefined)
          .finally(() => (this.probing = false));
      }
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
