// Times every metadata store call and counts failures, without the rest of the broker knowing:
// the broker wraps its store once and hands the wrapper to everything else.

import type {
  Compare,
  KeyValue,
  Lease,
  MetadataStore,
  Op,
  TxnResult,
  Watch,
  WatchEvent,
} from '../metadata/metadata-store.js';

export type MetadataObserver = (op: string, durationMs: number, error?: unknown) => void;

export class InstrumentedMetadataStore implements MetadataStore {
  constructor(
    readonly inner: MetadataStore,
    private readonly observe: MetadataObserver,
  ) {}

  private async timed<T>(op: string, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await call();
      this.notify(op, performance.now() - started);
      return result;
    } catch (error) {
      this.notify(op, performance.now() - started, error ?? new Error('rejected'));
      throw error;
    }
  }

  private notify(op: string, durationMs: number, error?: unknown): void {
    try {
      this.observe(op, durationMs, error);
    } catch {
      // Metrics must never fail a metadata call.
    }
  }

  get(key: string): Promise<KeyValue | undefined> {
    return this.timed('get', () => this.inner.get(key));
  }

  getPrefix(prefix: string): Promise<KeyValue[]> {
    return this.timed('getPrefix', () => this.inner.getPrefix(prefix));
  }

  put(key: string, value: string, lease?: string): Promise<number> {
    return this.timed('put', () => this.inner.put(key, value, lease));
  }

  delete(key: string): Promise<void> {
    return this.timed('delete', () => this.inner.delete(key));
  }

  txn(compares: Compare[], success: Op[], failure?: Op[]): Promise<TxnResult> {
    return this.timed('txn', () => this.inner.txn(compares, success, failure));
  }

  grantLease(ttlSeconds: number): Promise<Lease> {
    return this.timed('grantLease', () => this.inner.grantLease(ttlSeconds));
  }

  watchPrefix(
    prefix: string,
    listener: (events: WatchEvent[]) => void,
    fromRevision?: number,
  ): Promise<Watch> {
    return this.timed('watch', () => this.inner.watchPrefix(prefix, listener, fromRevision));
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
