import {
  ObjectNotFoundError,
  type ByteRange,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
} from './object-store.js';

/**
 * Reads from a replica bucket (for example a cross-region replica near the brokers) and writes
 * to the primary. An object the replica does not have yet (replication lag) is read from the
 * primary, so a committed segment is always readable.
 */
export class ReadReplicaObjectStore implements ObjectStore {
  constructor(
    private readonly primary: ObjectStore,
    private readonly replica: ObjectStore,
  ) {}

  put(key: string, body: ObjectBody): Promise<void> {
    return this.primary.put(key, body);
  }

  async get(key: string, range?: ByteRange): Promise<Buffer> {
    try {
      return await this.replica.get(key, range);
    } catch (err) {
      if (!(err instanceof ObjectNotFoundError)) throw err;
      return this.primary.get(key, range);
    }
  }

  delete(keys: string[]): Promise<void> {
    return this.primary.delete(keys);
  }

  list(prefix: string): Promise<ObjectInfo[]> {
    return this.primary.list(prefix);
  }

  async close(): Promise<void> {
    await Promise.all([this.primary.close(), this.replica.close()]);
  }
}
