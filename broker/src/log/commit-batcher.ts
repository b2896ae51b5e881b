import type { ClusterMetadata, PartitionCommit } from '../metadata/cluster-metadata.js';

interface Queued {
  commit: PartitionCommit;
  resolve: (revision: number | undefined) => void;
  reject: (err: unknown) => void;
}

/**
 * The broker-wide committer: partition commits submitted in the same turn of the event loop (the
 * partitions of one packed object, whose upload resolves them together) go to the metadata store
 * as one transaction, each still fenced on its own partition's revision (see
 * ClusterMetadata.commitPartitions). One etcd round trip per flush instead of one per partition.
 */
export class CommitBatcher {
  private queue: Queued[] = [];
  private scheduled = false;
  /** Batches sent so far, and the partition commits they carried (metrics, benchmarks). */
  batches = 0;
  commits = 0;

  constructor(private readonly metadata: ClusterMetadata) {}

  /**
   * Resolves with the partition's new revision, or undefined when its compare failed (fenced);
   * rejects with MetadataUnavailableError when the outcome is unknown.
   */
  commit(commit: PartitionCommit): Promise<number | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ commit, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.send());
      }
    });
  }

  private send(): void {
    this.scheduled = false;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    this.batches++;
    this.commits += batch.length;
    this.metadata.commitPartitions(batch.map((q) => q.commit)).then(
      (revisions) => batch.forEach((q, i) => q.resolve(revisions[i])),
      (err: unknown) => batch.forEach((q) => q.reject(err)),
    );
  }
}
