// The metadata seam: a small etcd-shaped key-value store with revisions, multi-key
// transactions, leases and prefix watches. The etcd implementation maps one to one onto etcd;
// the embedded one implements the same semantics in process, persisted to the data directory.
// Only the key-schema module (cluster-metadata.ts) decides which keys exist.

export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the last change to this key (etcd mod_revision). */
  modRevision: number;
  /** Revision at which the key was created (etcd create_revision). */
  createRevision: number;
  /** Number of changes since creation, starting at 1 (etcd version). */
  version: number;
  /** Lease the key is attached to, if any. */
  lease?: string;
}

export type Compare =
  | { key: string; target: 'value'; op: '=' | '!='; value: string }
  | {
      key: string;
      target: 'modRevision' | 'createRevision' | 'version';
      op: '=' | '!=' | '<' | '>';
      /** 0 means "the key does not exist" for createRevision/modRevision/version. */
      value: number;
    };

export type Op =
  | { type: 'put'; key: string; value: string; lease?: string }
  | { type: 'delete'; key: string }
  | { type: 'deletePrefix'; prefix: string }
  /** Every key k with from <= k < to (byte order, as etcd compares keys): one operation. */
  | { type: 'deleteRange'; from: string; to: string };

export interface TxnResult {
  succeeded: boolean;
  /** Store revision after the transaction. */
  revision: number;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  key: string;
  value: string;
  modRevision: number;
}

export interface Watch {
  cancel(): Promise<void>;
}

export interface Lease {
  readonly id: string;
  /** Stops the keep-alive and deletes every key attached to the lease. */
  revoke(): Promise<void>;
  /** Called once if the lease is lost (expired or could not be kept alive). */
  onLost(listener: () => void): void;
}

export interface MetadataStore {
  get(key: string): Promise<KeyValue | undefined>;
  /** Every key starting with prefix, in key order. */
  getPrefix(prefix: string): Promise<KeyValue[]>;
  put(key: string, value: string, lease?: string): Promise<number>;
  delete(key: string): Promise<void>;
  /** If every compare holds, applies success ops atomically, else the failure ops. */
  txn(compares: Compare[], success: Op[], failure?: Op[]): Promise<TxnResult>;
  /** A lease kept alive in the background until revoked or lost. */
  grantLease(ttlSeconds: number): Promise<Lease>;
  /** Calls listener for every change under prefix after fromRevision (or from now). */
  watchPrefix(
    prefix: string,
    listener: (events: WatchEvent[]) => void,
    fromRevision?: number,
  ): Promise<Watch>;
  close(): Promise<void>;
}

/** The store could not be reached or did not answer in time; the outcome of a write is unknown. */
export class MetadataUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'MetadataUnavailableError';
  }
}
