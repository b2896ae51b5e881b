// The single-node MetadataStore: etcd semantics in process, made durable by a write-ahead log in
// the data directory. Every mutation is applied in memory synchronously (so revisions are
// assigned in call order and compares see every earlier mutation), appended to the log, and only
// acknowledged after the fsync that covers it. Mutations that arrive while an fsync is running
// share the next one (group commit). Reads and watch events wait for the log to cover what they
// show, so nothing observable can be lost by a crash.

import { randomBytes } from 'node:crypto';
import {
  mkdir,
  open,
  readFile,
  rename,
  unlink,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import path from 'node:path';
import { crc32c } from '@node-rs/crc32';
import {
  MetadataUnavailableError,
  type Compare,
  type KeyValue,
  type Lease,
  type MetadataStore,
  type Op,
  type TxnResult,
  type Watch,
  type WatchEvent,
} from './metadata-store.js';
import { syncDir } from '../util/sync-dir.js';

export interface EmbeddedMetadataStoreOptions {
  /** Log size that triggers a snapshot and a log truncation. */
  compactBytes?: number;
  /** How many recent revisions watches may resume from. */
  historyRevisions?: number;
}

const LOG_FILE = 'metadata.wal';
const SNAPSHOT_FILE = 'metadata.snapshot';
const LOCK_FILE = 'metadata.lock';
const HEADER_BYTES = 8;
const LEASE_TICK_MS = 250;

interface Entry {
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  lease?: string;
}

/** One log record: the resolved effect of one revision; a missing value means delete. */
type Change = [key: string, value?: string, lease?: string];
interface LogRecord {
  rev: number;
  changes: Change[];
}
type SnapshotEntry = [string, string, number, number, number, string?];
interface Snapshot {
  revision: number;
  entries: SnapshotEntry[];
}

interface PendingWrite {
  record: Buffer;
  revision: number;
  events: WatchEvent[];
  resolve: () => void;
  reject: (error: Error) => void;
}

interface LeaseState {
  ttlMs: number;
  lastRefresh: number;
  keys: Set<string>;
  handle: EmbeddedLease;
}

const openDirs = new Set<string>();

export class EmbeddedMetadataStore implements MetadataStore {
  private readonly entries = new Map<string, Entry>();
  /** Keys in etcd (UTF-8 byte) order, for prefix scans. */
  private readonly sortedKeys: string[] = [];
  private revision = 1;
  private durableRevision = 1;
  /** Recent durable revisions and their events, oldest first, for watch resume. */
  private readonly history: { revision: number; events: WatchEvent[] }[] = [];
  private compactedRevision = 1;
  private readonly watchers = new Set<EmbeddedWatch>();
  private readonly leases = new Map<string, LeaseState>();
  private pending: PendingWrite[] = [];
  private flushing: Promise<void> | undefined;
  /** Settles once everything enqueued so far is durable (or the store has failed). */
  private tail: Promise<void> = Promise.resolve();
  private logBytes = 0;
  private failure: Error | undefined;
  private closed = false;
  private readonly leaseTimer: NodeJS.Timeout;

  private constructor(
    private readonly dir: string,
    private readonly log: FileHandle,
    private readonly options: Required<EmbeddedMetadataStoreOptions>,
  ) {
    this.leaseTimer = setInterval(() => this.tickLeases(), LEASE_TICK_MS);
    this.leaseTimer.unref();
  }

  static async open(
    dataDir: string,
    options: EmbeddedMetadataStoreOptions = {},
  ): Promise<EmbeddedMetadataStore> {
    const dir = path.resolve(dataDir);
    await mkdir(dir, { recursive: true });
    await acquireLock(dir);
    let log: FileHandle | undefined;
    try {
      const snapshot = await readSnapshot(path.join(dir, SNAPSHOT_FILE));
      const { records, validBytes } = await readLog(path.join(dir, LOG_FILE));
      log = await open(path.join(dir, LOG_FILE), 'a');
      // A crash mid-append leaves a torn tail that was never acknowledged: cut it off so new
      // records follow the last good one.
      if ((await log.stat()).size !== validBytes) {
        await log.truncate(validBytes);
        await log.sync();
      }
      const store = new EmbeddedMetadataStore(dir, log, {
        compactBytes: options.compactBytes ?? 16 * 1024 * 1024,
        historyRevisions: options.historyRevisions ?? 1000,
      });
      store.logBytes = validBytes;
      store.restore(snapshot, records);
      await store.dropLeasedKeys();
      return store;
    } catch (error) {
      await log?.close();
      await releaseLock(dir);
      throw error;
    }
  }

  async get(key: string): Promise<KeyValue | undefined> {
    this.check();
    const entry = this.entries.get(key);
    const result = entry && toKeyValue(key, entry);
    await this.durable();
    return result;
  }

  async getPrefix(prefix: string): Promise<KeyValue[]> {
    this.check();
    const result: KeyValue[] = [];
    for (let i = lowerBound(this.sortedKeys, prefix); i < this.sortedKeys.length; i++) {
      const key = this.sortedKeys[i]!;
      if (!key.startsWith(prefix)) break;
      result.push(toKeyValue(key, this.entries.get(key)!));
    }
    await this.durable();
    return result;
  }

  async put(key: string, value: string, lease?: string): Promise<number> {
    return (await this.txn([], [{ type: 'put', key, value, lease }])).revision;
  }

  async delete(key: string): Promise<void> {
    await this.txn([], [{ type: 'delete', key }]);
  }

  async txn(compares: Compare[], success: Op[], failure: Op[] = []): Promise<TxnResult> {
    this.check();
    validateOps(success);
    validateOps(failure);
    const succeeded = compares.every((compare) => this.holds(compare));
    const ops = succeeded ? success : failure;
    const changes: Change[] = [];
    for (const op of ops) {
      if (op.type === 'put') {
        if (op.lease !== undefined && !this.leases.has(op.lease)) {
          throw new Error(`lease ${op.lease} not found`);
        }
        changes.push(op.lease === undefined ? [op.key, op.value] : [op.key, op.value, op.lease]);
      } else if (op.type === 'delete') {
        if (this.entries.has(op.key)) changes.push([op.key]);
      } else if (op.type === 'deletePrefix') {
        for (const kv of this.keysWithPrefix(op.prefix)) changes.push([kv]);
      } else {
        for (const kv of this.keysInRange(op.from, op.to)) changes.push([kv]);
      }
    }
    const revision = await this.commit(changes);
    return { succeeded, revision };
  }

  async grantLease(ttlSeconds: number): Promise<Lease> {
    this.check();
    if (!(ttlSeconds >= 1)) throw new RangeError(`lease TTL must be at least 1 second`);
    const id = randomBytes(8).toString('hex');
    const handle = new EmbeddedLease(id, () => this.revokeLease(id));
    this.leases.set(id, {
      ttlMs: ttlSeconds * 1000,
      lastRefresh: Date.now(),
      keys: new Set(),
      handle,
    });
    return handle;
  }

  async watchPrefix(
    prefix: string,
    listener: (events: WatchEvent[]) => void,
    fromRevision?: number,
  ): Promise<Watch> {
    this.check();
    const start = fromRevision ?? this.durableRevision + 1;
    if (start <= this.compactedRevision) {
      throw new Error(
        `revision ${start} is compacted (oldest available is ${this.compactedRevision + 1})`,
      );
    }
    const watch = new EmbeddedWatch(prefix, listener, start, () => this.watchers.delete(watch));
    for (const { events } of this.history) watch.offer(events);
    this.watchers.add(watch);
    return watch;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.leaseTimer);
    await this.tail;
    await this.flushing;
    for (const watch of this.watchers) watch.stop();
    this.watchers.clear();
    for (const lease of this.leases.values()) lease.handle.detach();
    this.leases.clear();
    await this.log.close();
    await releaseLock(this.dir);
  }

  private check(): void {
    if (this.failure) {
      throw new MetadataUnavailableError('embedded metadata store failed; reopen it', {
        cause: this.failure,
      });
    }
    if (this.closed) throw new MetadataUnavailableError('embedded metadata store is closed');
  }

  private async durable(): Promise<void> {
    await this.tail;
    this.check();
  }

  private holds(compare: Compare): boolean {
    const entry = this.entries.get(compare.key);
    if (compare.target === 'value') {
      // As in etcd: a value compare against a missing key is always false.
      if (!entry) return false;
      return compare.op === '=' ? entry.value === compare.value : entry.value !== compare.value;
    }
    const actual = entry ? entry[compare.target] : 0;
    switch (compare.op) {
      case '=':
        return actual === compare.value;
      case '!=':
        return actual !== compare.value;
      case '<':
        return actual < compare.value;
      case '>':
        return actual > compare.value;
    }
  }

  private keysWithPrefix(prefix: string): string[] {
    const keys: string[] = [];
    for (let i = lowerBound(this.sortedKeys, prefix); i < this.sortedKeys.length; i++) {
      const key = this.sortedKeys[i]!;
      if (!key.startsWith(prefix)) break;
      keys.push(key);
    }
    return keys;
  }

  private keysInRange(from: string, to: string): string[] {
    const keys: string[] = [];
    for (let i = lowerBound(this.sortedKeys, from); i < this.sortedKeys.length; i++) {
      const key = this.sortedKeys[i]!;
      if (compareKeys(key, to) >= 0) break;
      keys.push(key);
    }
    return keys;
  }

  /**
   * Applies changes in memory as the next revision and resolves once they are durable. Like
   * etcd, a mutation that changes nothing does not create a revision.
   */
  private commit(changes: Change[]): Promise<number> {
    if (changes.length === 0) return this.durable().then(() => this.revision);
    const revision = ++this.revision;
    const events = this.apply(revision, changes);
    const record = encodeRecord({ rev: revision, changes });
    const done = new Promise<void>((resolve, reject) => {
      this.pending.push({ record, revision, events, resolve, reject });
    });
    this.tail = done.catch(() => undefined);
    this.flushing ??= this.flushLoop();
    return done.then(() => revision);
  }

  private apply(revision: number, changes: Change[]): WatchEvent[] {
    const events: WatchEvent[] = [];
    for (const [key, value, lease] of changes) {
      const previous = this.entries.get(key);
      if (previous?.lease !== undefined) this.leases.get(previous.lease)?.keys.delete(key);
      if (value === undefined) {
        if (!previous) continue;
        this.entries.delete(key);
        this.sortedKeys.splice(lowerBound(this.sortedKeys, key), 1);
        events.push({ type: 'delete', key, value: '', modRevision: revision });
        continue;
      }
      if (!previous) this.sortedKeys.splice(lowerBound(this.sortedKeys, key), 0, key);
      this.entries.set(key, {
        value,
        createRevision: previous ? previous.createRevision : revision,
        modRevision: revision,
        version: previous ? previous.version + 1 : 1,
        lease,
      });
      if (lease !== undefined) this.leases.get(lease)?.keys.add(key);
      events.push({ type: 'put', key, value, modRevision: revision });
    }
    return events;
  }

  private async flushLoop(): Promise<void> {
    while (this.pending.length > 0 && !this.failure) {
      const group = this.pending;
      this.pending = [];
      const bytes = Buffer.concat(group.map((write) => write.record));
      try {
        await writeFully(this.log, bytes);
        await this.log.datasync();
      } catch (error) {
        // After a failed write or fsync the file's contents are unknown (the kernel may have
        // dropped dirty pages): refuse to go on rather than acknowledge on top of a hole.
        this.fail(error as Error, [...group, ...this.pending]);
        break;
      }
      this.logBytes += bytes.length;
      for (const write of group) {
        this.durableRevision = write.revision;
        this.remember(write.revision, write.events);
        write.resolve();
      }
      if (this.logBytes >= this.options.compactBytes) {
        try {
          await this.compact();
        } catch (error) {
          this.fail(error as Error, this.pending);
          break;
        }
      }
    }
    this.flushing = undefined;
  }

  private fail(error: Error, writes: PendingWrite[]): void {
    this.failure = error;
    this.pending = [];
    const unavailable = new MetadataUnavailableError('metadata log write failed', { cause: error });
    for (const write of writes) write.reject(unavailable);
  }

  private remember(revision: number, events: WatchEvent[]): void {
    this.history.push({ revision, events });
    if (this.history.length > this.options.historyRevisions) {
      this.compactedRevision = this.history.shift()!.revision;
    }
    for (const watch of this.watchers) watch.offer(events);
  }

  /**
   * Writes the whole in-memory state as a snapshot and empties the log. The state may include
   * mutations still waiting for the next group write; they are then in the snapshot and their
   * log records, appended afterwards, are skipped on replay.
   */
  private async compact(): Promise<void> {
    const snapshot: Snapshot = { revision: this.revision, entries: [] };
    for (const key of this.sortedKeys) {
      const e = this.entries.get(key)!;
      const row: SnapshotEntry = [key, e.value, e.createRevision, e.modRevision, e.version];
      if (e.lease !== undefined) row.push(e.lease);
      snapshot.entries.push(row);
    }
    const target = path.join(this.dir, SNAPSHOT_FILE);
    const temp = `${target}.tmp`;
    const file = await open(temp, 'w');
    try {
      await writeFully(file, frame(Buffer.from(JSON.stringify(snapshot))));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, target);
    await syncDir(this.dir);
    await this.log.truncate(0);
    await this.log.sync();
    this.logBytes = 0;
  }

  private restore(snapshot: Snapshot | undefined, records: LogRecord[]): void {
    if (snapshot) {
      for (const [key, value, createRevision, modRevision, version, lease] of snapshot.entries) {
        this.entries.set(key, { value, createRevision, modRevision, version, lease });
        this.sortedKeys.push(key);
      }
      this.revision = snapshot.revision;
    }
    for (const record of records) {
      if (record.rev <= this.revision) continue;
      if (record.rev !== this.revision + 1) {
        throw new Error(`metadata log jumps from revision ${this.revision} to ${record.rev}`);
      }
      this.revision = record.rev;
      this.apply(record.rev, record.changes);
    }
    this.durableRevision = this.revision;
    this.compactedRevision = this.revision;
  }

  /** Leases live only as long as the process that granted them. */
  private async dropLeasedKeys(): Promise<void> {
    const orphans: Change[] = [];
    for (const [key, entry] of this.entries) if (entry.lease !== undefined) orphans.push([key]);
    await this.commit(orphans);
    this.compactedRevision = this.durableRevision;
    this.history.length = 0;
  }

  private tickLeases(): void {
    const now = Date.now();
    for (const [id, lease] of this.leases) {
      // The keep-alive and the expiry check share this timer, so a lease only expires when the
      // process stalls for longer than its TTL, as an etcd client would.
      if (now - lease.lastRefresh > lease.ttlMs) {
        this.expire(id);
        lease.handle.markLost();
      } else {
        lease.lastRefresh = now;
      }
    }
  }

  private expire(id: string): Promise<number> {
    const lease = this.leases.get(id);
    if (!lease) return this.durable().then(() => this.revision);
    this.leases.delete(id);
    const done = this.commit([...lease.keys].map((key): Change => [key]));
    done.catch(() => undefined);
    return done;
  }

  private async revokeLease(id: string): Promise<void> {
    this.check();
    await this.expire(id);
  }
}

class EmbeddedLease implements Lease {
  private readonly listeners: (() => void)[] = [];
  private lost = false;
  private detached = false;

  constructor(
    readonly id: string,
    private readonly doRevoke: () => Promise<void>,
  ) {}

  async revoke(): Promise<void> {
    this.detached = true;
    await this.doRevoke();
  }

  onLost(listener: () => void): void {
    if (this.lost) queueMicrotask(listener);
    else this.listeners.push(listener);
  }

  markLost(): void {
    if (this.lost || this.detached) return;
    this.lost = true;
    for (const listener of this.listeners.splice(0)) queueMicrotask(listener);
  }

  /** The store closed: the lease just stops, it is not lost. */
  detach(): void {
    this.detached = true;
  }
}

class EmbeddedWatch implements Watch {
  private queue: WatchEvent[][] = [];
  private scheduled = false;
  private stopped = false;

  constructor(
    private readonly prefix: string,
    private readonly listener: (events: WatchEvent[]) => void,
    private nextRevision: number,
    private readonly onCancel: () => void,
  ) {}

  /** Queues the matching events of one revision; delivery is asynchronous and in order. */
  offer(events: WatchEvent[]): void {
    if (events.length === 0 || events[0]!.modRevision < this.nextRevision) return;
    const matching = events.filter((event) => event.key.startsWith(this.prefix));
    this.nextRevision = events[0]!.modRevision + 1;
    if (matching.length === 0) return;
    this.queue.push(matching);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.drain());
    }
  }

  async cancel(): Promise<void> {
    this.stop();
    this.onCancel();
  }

  stop(): void {
    this.stopped = true;
    this.queue = [];
  }

  private drain(): void {
    this.scheduled = false;
    const batches = this.queue;
    this.queue = [];
    if (this.stopped || batches.length === 0) return;
    this.listener(batches.flat());
  }
}

function toKeyValue(key: string, entry: Entry): KeyValue {
  const kv: KeyValue = {
    key,
    value: entry.value,
    modRevision: entry.modRevision,
    createRevision: entry.createRevision,
    version: entry.version,
  };
  if (entry.lease !== undefined) kv.lease = entry.lease;
  return kv;
}

/** etcd orders keys by their UTF-8 bytes, which is code point order, not UTF-16 order. */
function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function lowerBound(keys: string[], key: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareKeys(keys[mid]!, key) < 0) low = mid + 1;
    else high = mid;
  }
  return low;
}

/** The same rejections etcd makes, so code that works embedded also works on etcd. */
function validateOps(ops: Op[]): void {
  const puts = new Set<string>();
  for (const op of ops) {
    if (op.type !== 'put') continue;
    if (puts.has(op.key)) throw new Error('duplicate key given in txn request');
    puts.add(op.key);
  }
  for (const op of ops) {
    const covers = (key: string) =>
      op.type === 'delete'
        ? key === op.key
        : op.type === 'deletePrefix'
          ? key.startsWith(op.prefix)
          : op.type === 'deleteRange' &&
            compareKeys(key, op.from) >= 0 &&
            compareKeys(key, op.to) < 0;
    for (const key of puts) if (covers(key)) throw new Error('duplicate key given in txn request');
  }
}

function frame(payload: Buffer): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt32LE(payload.length, 0);
  header.writeUInt32LE(crc32c(payload), 4);
  return Buffer.concat([header, payload]);
}

function encodeRecord(record: LogRecord): Buffer {
  return frame(Buffer.from(JSON.stringify(record)));
}

/** Reads framed records up to the first incomplete or corrupt one. */
function* readFrames(bytes: Buffer): Generator<{ payload: Buffer; end: number }> {
  let offset = 0;
  while (offset + HEADER_BYTES <= bytes.length) {
    const length = bytes.readUInt32LE(offset);
    const end = offset + HEADER_BYTES + length;
    if (end > bytes.length) return;
    const payload = bytes.subarray(offset + HEADER_BYTES, end);
    if (crc32c(payload) !== bytes.readUInt32LE(offset + 4)) return;
    yield { payload, end };
    offset = end;
  }
}

async function readLog(file: string): Promise<{ records: LogRecord[]; validBytes: number }> {
  const bytes = await readFile(file).catch(ignoreMissing);
  const records: LogRecord[] = [];
  let validBytes = 0;
  if (!bytes) return { records, validBytes };
  for (const { payload, end } of readFrames(bytes)) {
    records.push(JSON.parse(payload.toString()) as LogRecord);
    validBytes = end;
  }
  return { records, validBytes };
}

async function readSnapshot(file: string): Promise<Snapshot | undefined> {
  const bytes = await readFile(file).catch(ignoreMissing);
  if (!bytes) return undefined;
  const [first] = readFrames(bytes);
  // The snapshot is renamed into place only after fsync, so a bad one is real corruption.
  if (!first || first.end !== bytes.length) throw new Error(`corrupt metadata snapshot ${file}`);
  return JSON.parse(first.payload.toString()) as Snapshot;
}

function ignoreMissing(error: NodeJS.ErrnoException): undefined {
  if (error.code === 'ENOENT') return undefined;
  throw error;
}

async function writeFully(file: FileHandle, bytes: Buffer): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) {
    const { bytesWritten } = await file.write(bytes, offset, bytes.length - offset);
    offset += bytesWritten;
  }
}

/** One process per data directory: two writers appending to one log would corrupt it. */
async function acquireLock(dir: string): Promise<void> {
  if (openDirs.has(dir)) throw new Error(`metadata store in ${dir} is already open`);
  const lockFile = path.join(dir, LOCK_FILE);
  const holder = Number((await readFile(lockFile, 'utf8').catch(ignoreMissing)) ?? NaN);
  if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
    throw new Error(`metadata store in ${dir} is in use by process ${holder}`);
  }
  await writeFile(lockFile, String(process.pid));
  openDirs.add(dir);
}

async function releaseLock(dir: string): Promise<void> {
  if (!openDirs.delete(dir)) return;
  await unlink(path.join(dir, LOCK_FILE)).catch(ignoreMissing);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
