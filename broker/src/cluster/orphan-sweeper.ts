import type { ClusterMetadata } from '../metadata/cluster-metadata.js';
import type { ObjectStore } from '../storage/object-store.js';
import type { Logger } from '../logger.js';
import type { Membership } from './membership.js';

export interface OrphanSweeperOptions {
  namespace: string;
  /** Objects younger than this are never deleted: their commit may still be under way. */
  graceMs: number;
  intervalMs: number;
}

/**
 * Deletes segment objects that no manifest references: uploads whose commit failed, writes of
 * fenced leaders, objects of deleted topics. Runs on one broker at a time (the lowest live id).
 * The bucket is listed before the manifests are read, so an object committed in between is
 * seen as referenced; the grace period covers uploads whose commit has not happened yet.
 */
export class OrphanSweeper {
  private timer?: NodeJS.Timeout;
  private running?: Promise<number>;

  constructor(
    private readonly metadata: ClusterMetadata,
    private readonly objects: ObjectStore,
    private readonly membership: Membership,
    private readonly logger: Logger,
    private readonly options: OrphanSweeperOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.membership.brokerIds()[0] === this.membership.self.nodeId) void this.sweep();
    }, this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One pass; resolves with the number of objects deleted. */
  sweep(now = Date.now()): Promise<number> {
    this.running ??= this.pass(now).finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(now: number): Promise<number> {
    try {
      const listed = await this.objects.list(`${this.options.namespace}/`);
      const referenced = await this.metadata.referencedObjectKeys();
      const orphans = listed
        .filter(
          (o) => !referenced.has(o.key) && now - o.lastModified.getTime() > this.options.graceMs,
        )
        .map((o) => o.key);
      if (orphans.length > 0) {
        await this.objects.delete(orphans);
        this.logger.info('orphan objects deleted', { count: orphans.length });
      }
      return orphans.length;
    } catch (err) {
      this.logger.warn('orphan sweep failed', { err: String(err) });
      return 0;
    }
  }
}
