import { CoordinationV1Api, type KubeConfig, type V1Lease } from '@kubernetes/client-node';
import { sleep } from './backoff.js';
import { errorCode } from './errors.js';

export interface LeaderElectionOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  /** Called when leadership is lost (not on release at shutdown). */
  onStoppedLeading: () => void;
  onError?: (error: unknown) => void;
}

/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: take the Lease when it
 * is free or its holder has not renewed within its duration, renew it every retry period, give
 * up leading when renewals fail for the renew deadline (before another candidate may take it),
 * and release it on shutdown so a successor takes over at once rather than after the duration.
 * Every write carries the resourceVersion read, so two candidates never both win.
 */
export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private readonly abort = new AbortController();
  private loop?: Promise<void>;
  private leading = false;
  private lease?: V1Lease;

  constructor(private readonly options: LeaderElectionOptions) {
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Stops campaigning and releases the Lease if held. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    if (this.leading) {
      this.leading = false;
      await this.release().catch((e: unknown) => this.options.onError?.(e));
    }
  }

  private get leaseDurationMs(): number {
    return this.options.leaseDurationMs ?? 15_000;
  }

  private async run(): Promise<void> {
    const retry = this.options.retryPeriodMs ?? 2000;
    const renewDeadline = this.options.renewDeadlineMs ?? 10_000;
    let lastRenew = 0;
    while (!this.abort.signal.aborted) {
      let held = false;
      try {
        held = await this.tryAcquireOrRenew();
      } catch (error) {
        this.options.onError?.(error);
      }
      if (this.abort.signal.aborted) break;
      if (held) {
        lastRenew = Date.now();
        if (!this.leading) {
          this.leading = true;
          this.options.onStartedLeading();
        }
      } else if (this.leading && Date.now() - lastRenew >= renewDeadline) {
        this.leading = false;
        this.options.onStoppedLeading();
      } else if (this.leading && this.lease?.spec?.holderIdentity !== this.options.identity) {
        // Someone else holds it: our renewals were lost.
        this.leading = false;
        this.options.onStoppedLeading();
      }
      await sleep(retry, this.abort.signal);
    }
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const now = new Date();
    let current: V1Lease;
    try {
      current = await this.api.readNamespacedLease({ namespace, name });
    } catch (error) {
      if (errorCode(error) !== 404) throw error;
      this.lease = await this.api.createNamespacedLease({
        namespace,
        body: {
          metadata: { name, namespace },
          spec: {
            holderIdentity: identity,
            leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        },
      });
      return true;
    }
    this.lease = current;
    const spec = current.spec ?? {};
    const holder = spec.holderIdentity ?? '';
    const renewedAt = spec.renewTime ? new Date(spec.renewTime).getTime() : 0;
    const durationMs = (spec.leaseDurationSeconds ?? 0) * 1000;
    // Expiry is judged against our own clock from the renewTime, as client-go does.
    const expired = holder === '' || renewedAt + durationMs < now.getTime();
    if (holder !== identity && !expired) return false;
    const next: V1Lease = {
      ...current,
      spec: {
        ...spec,
        holderIdentity: identity,
        leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
        renewTime: now,
        acquireTime: holder === identity ? spec.acquireTime : now,
        leaseTransitions: (spec.leaseTransitions ?? 0) + (holder === identity ? 0 : 1),
      },
    };
    try {
      this.lease = await this.api.replaceNamespacedLease({ namespace, name, body: next });
      return true;
    } catch (error) {
      if (errorCode(error) === 409) return false;
      throw error;
    }
  }

  private async release(): Promise<void> {
    const { namespace, name, identity } = this.options;
    const current = await this.api.readNamespacedLease({ namespace, name });
    if (current.spec?.holderIdentity !== identity) return;
    await this.api.replaceNamespacedLease({
      namespace,
      name,
      body: {
        ...current,
        spec: {
          ...current.spec,
          holderIdentity: '',
          leaseDurationSeconds: 1,
          renewTime: new Date(),
        },
      },
    });
  }
}
