import type { ClusterMetadata } from '../metadata/cluster-metadata.js';
import type { Lease, Watch, WatchEvent } from '../metadata/metadata-store.js';
import type { BrokerRecord } from '../metadata/model.js';
import type { Logger } from '../logger.js';

const MAX_BROKER_ID = 100_000;

/**
 * This broker's registration and the live broker set. The broker registers under its lease
 * (a configured id, or the lowest free id claimed atomically, since pods of a Deployment have
 * no ordinal); the registration disappears when the lease expires. The live set is kept
 * current by a watch, so placement decisions are synchronous.
 */
export class Membership {
  private readonly live = new Map<number, BrokerRecord>();
  private readonly listeners: (() => void)[] = [];
  private watch?: Watch;

  private leaving = false;

  private constructor(
    private readonly metadata: ClusterMetadata,
    private currentLease: Lease,
    readonly self: BrokerRecord,
    private readonly logger: Logger,
    private readonly leaseTtlSec: number,
  ) {}

  /** The lease this broker's registration and leadership keys live under. */
  get lease(): Lease {
    return this.currentLease;
  }

  /**
   * Registers this broker. With a configured id, an earlier incarnation's registration with the
   * same id is taken over (its partitions are fenced by their epochs anyway).
   */
  static async join(
    metadata: ClusterMetadata,
    lease: Lease,
    broker: Omit<BrokerRecord, 'nodeId'> & { nodeId: number | null },
    logger: Logger,
    leaseTtlSec: number,
  ): Promise<Membership> {
    let nodeId = broker.nodeId;
    if (nodeId === null) {
      for (let id = 0; nodeId === null && id < MAX_BROKER_ID; id++) {
        if (await metadata.claimBroker({ ...broker, nodeId: id }, lease.id)) nodeId = id;
      }
      if (nodeId === null) throw new Error('no free broker id');
    } else {
      await metadata.registerBroker({ ...broker, nodeId }, lease.id);
    }
    const membership = new Membership(metadata, lease, { ...broker, nodeId }, logger, leaseTtlSec);
    await membership.start();
    return membership;
  }

  private async start(): Promise<void> {
    const prefix = this.metadata.brokersPrefix();
    this.watch = await this.metadata.store.watchPrefix(prefix, (events) => this.apply(events));
    for (const b of await this.metadata.brokers()) this.live.set(b.nodeId, b);
    this.live.set(this.self.nodeId, this.self);
    this.watchLease();
  }

  /**
   * A lost lease (the metadata store was unreachable for longer than its TTL) means another
   * broker may already lead our partitions: give up everything, then register again under a
   * new lease and take part in placement as before.
   */
  private watchLease(): void {
    this.currentLease.onLost(() => {
      if (this.leaving) return;
      this.logger.error('broker lease lost: giving up every partition', {
        nodeId: this.self.nodeId,
      });
      this.live.delete(this.self.nodeId);
      this.notify();
      void this.rejoin();
    });
  }

  private async rejoin(): Promise<void> {
    for (let attempt = 0; !this.leaving; attempt++) {
      try {
        const lease = await this.metadata.store.grantLease(this.leaseTtlSec);
        await this.metadata.registerBroker(this.self, lease.id);
        this.currentLease = lease;
        this.watchLease();
        this.live.set(this.self.nodeId, this.self);
        this.logger.info('broker registered again', { nodeId: this.self.nodeId });
        this.notify();
        return;
      } catch (err) {
        this.logger.warn('registering again failed', { attempt, err: String(err) });
        await new Promise((r) => setTimeout(r, Math.min(5000, 200 * 2 ** attempt)));
      }
    }
  }

  private apply(events: WatchEvent[]): void {
    let changed = false;
    for (const e of events) {
      const id = Number(e.key.slice(this.metadata.brokersPrefix().length));
      if (e.type === 'put') {
        const record = JSON.parse(e.value) as BrokerRecord;
        const old = this.live.get(id);
        if (!old || old.host !== record.host || old.port !== record.port) changed = true;
        this.live.set(id, record);
      } else if (this.live.delete(id)) {
        changed = true;
      }
    }
    if (changed) {
      this.logger.info('live brokers changed', { brokers: this.brokerIds() });
      this.notify();
    }
  }

  private notify(): void {
    for (const l of this.listeners) l();
  }

  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Whether this broker still holds its registration (false after the lease was lost). */
  get isLive(): boolean {
    return this.live.has(this.self.nodeId);
  }

  brokers(): BrokerRecord[] {
    return [...this.live.values()].sort((a, b) => a.nodeId - b.nodeId);
  }

  brokerIds(): number[] {
    return this.brokers().map((b) => b.nodeId);
  }

  broker(id: number): BrokerRecord | undefined {
    return this.live.get(id);
  }

  async leave(): Promise<void> {
    this.leaving = true;
    await this.watch?.cancel();
    await this.currentLease.revoke().catch(() => undefined);
  }
}
