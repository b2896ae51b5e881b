// The object storage seam. Segments and indexes are immutable objects; keys are never reused
// for different bytes, so no operation here needs conditional writes.

export interface ObjectInfo {
  key: string;
  size: number;
  lastModified: Date;
}

/** A byte range [start, end) of an object. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * An object's bytes: one buffer, or parts stored as their concatenation without being copied into
 * one (a packed object is the segments and indexes of many partitions).
 */
export type ObjectBody = Buffer | readonly Buffer[];

export function bodyLength(body: ObjectBody): number {
  return Buffer.isBuffer(body) ? body.length : body.reduce((n, part) => n + part.length, 0);
}

export interface ObjectStore {
  /** Stores the whole object. Resolves only once the object is durable. */
  put(key: string, body: ObjectBody): Promise<void>;
  /** Reads the whole object, or a byte range of it. Rejects with ObjectNotFoundError when absent. */
  get(key: string, range?: ByteRange): Promise<Buffer>;
  /** Deletes objects; absent keys are not an error. */
  delete(keys: string[]): Promise<void>;
  /** Lists every object whose key starts with prefix, in key order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Releases connections and timers. */
  close(): Promise<void>;
}

export class ObjectNotFoundError extends Error {
  constructor(readonly key: string) {
    super(`object not found: ${key}`);
    this.name = 'ObjectNotFoundError';
  }
}

export type ObjectStoreOp = 'put' | 'get' | 'delete' | 'list';

/**
 * Called once per request a store makes to its backend (for S3, every HTTP attempt, retries
 * included), so metrics and health monitoring see failures that a retry later hid.
 * Must not throw; it runs on the request path.
 */
export type ObjectStoreObserver = (op: ObjectStoreOp, durationMs: number, error?: unknown) => void;
