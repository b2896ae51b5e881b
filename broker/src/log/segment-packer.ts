import { randomBytes } from 'node:crypto';
import type { Logger } from '../logger.js';
import type { ObjectStore } from '../storage/object-store.js';
import {
  encodePackedObject,
  packedObjectKey,
  type PackedPart,
  type PackedPlacement,
} from '../storage/packed-object.js';

export interface SegmentPackerOptions {
  namespace: string;
  /**
   * At most one upload starts per interval (the flush interval): whatever partitions submit in
   * between rides along, so PUTs per second follow the flush rate, not the partition count.
   */
  intervalMs: number;
  /**
   * After a quiet spell the first submission waits this long for company: flush timers of
   * partitions that filled at about the same time fire a little apart.
   */
  lingerMs: number;
  /** Upload at once when this many bytes are queued, whatever the interval says. */
  maxBytes: number;
}

interface Submission extends PackedPart {
  resolve: (placement: PackedPlacement) => void;
  reject: (err: unknown) => void;
}

/**
 * The broker-wide uploader of flushed segments. Partitions submit their encoded segment and index
 * and get back where they landed once the single PUT of the packed object succeeded; each then
 * commits its own manifest entry (with its own fencing compare). A failed PUT rejects every
 * submission of that object.
 */
export class SegmentPacker {
  /** Unique to this process: the keys it writes can never collide with another writer's. */
  readonly writerId: string;
  private sequence = 0;
  private queue: Submission[] = [];
  private queuedBytes = 0;
  private cancelTimer?: () => void;
  private lastUploadAt = -Infinity;
  private readonly uploads = new Set<Promise<void>>();
  /** PUTs of packed objects made so far (metrics, benchmarks). */
  objectsWritten = 0;

  constructor(
    private readonly objects: ObjectStore,
    private readonly logger: Logger,
    private readonly options: SegmentPackerOptions,
    nodeId: number,
  ) {
    this.writerId = `b${nodeId}-${randomBytes(6).toString('hex')}`;
  }

  submit(part: PackedPart): Promise<PackedPlacement> {
    const promise = new Promise<PackedPlacement>((resolve, reject) =>
      this.queue.push({ ...part, resolve, reject }),
    );
    this.queuedBytes += part.segment.length + part.index.length;
    if (this.queuedBytes >= this.options.maxBytes) {
      this.uploadNow();
    } else if (!this.cancelTimer) {
      const { intervalMs, lingerMs } = this.options;
      const wait = Math.max(lingerMs, this.lastUploadAt + intervalMs - performance.now());
      if (wait > 0) {
        const timer = setTimeout(() => this.uploadNow(), wait);
        this.cancelTimer = () => clearTimeout(timer);
      } else {
        // Partitions whose flush timers fire in the same turn of the event loop share the PUT.
        const immediate = setImmediate(() => this.uploadNow());
        this.cancelTimer = () => clearImmediate(immediate);
      }
    }
    return promise;
  }

  /** Uploads what is queued now and waits for every upload under way (shutdown). */
  async drain(): Promise<void> {
    if (this.queue.length > 0) this.uploadNow();
    await Promise.all([...this.uploads]);
  }

  private uploadNow(): void {
    this.cancelTimer?.();
    this.cancelTimer = undefined;
    const batch = this.queue;
    if (batch.length === 0) return;
    this.queue = [];
    this.queuedBytes = 0;
    this.lastUploadAt = performance.now();
    const key = packedObjectKey(this.options.namespace, this.writerId, this.sequence++);
    const { body, placements } = encodePackedObject(key, batch);
    const upload = this.objects.put(key, body).then(
      () => {
        this.objectsWritten++;
        batch.forEach((s, i) => s.resolve(placements[i]));
      },
      (err: unknown) => {
        this.logger.warn('packed segment upload failed', {
          key,
          partitions: batch.length,
          err: String(err),
        });
        for (const s of batch) s.reject(err);
      },
    );
    this.uploads.add(upload);
    void upload.finally(() => this.uploads.delete(upload));
  }
}
