// Object storage on a local directory, for the single-node default. A key is a relative file
// path under the root. Writes go to a temp file in the target directory and are renamed into
// place, so a reader (or a restart after a crash) sees either the whole object or none of it.

import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import {
  ObjectNotFoundError,
  bodyLength,
  type ByteRange,
  type ObjectBody,
  type ObjectInfo,
  type ObjectStore,
  type ObjectStoreObserver,
  type ObjectStoreOp,
} from './object-store.js';
import { syncDir } from '../util/sync-dir.js';

export interface LocalObjectStoreOptions {
  onRequest?: ObjectStoreObserver;
}

// Temp files share the directory of their target (rename is only atomic within a file system)
// and are told apart from objects by this prefix, which is therefore not allowed in keys.
const TEMP_PREFIX = '.kfs-tmp-';
const DELETE_CONCURRENCY = 32;

export class LocalObjectStore implements ObjectStore {
  readonly rootDir: string;
  private readonly onRequest?: ObjectStoreObserver;
  /** Directories made durable by this process, shared by concurrent puts into them. */
  private readonly durableDirs = new Map<string, Promise<void>>();

  constructor(rootDir: string, options: LocalObjectStoreOptions = {}) {
    this.rootDir = path.resolve(rootDir);
    this.onRequest = options.onRequest;
  }

  put(key: string, body: ObjectBody): Promise<void> {
    return this.observe('put', () => this.write(this.pathOf(key), body));
  }

  get(key: string, range?: ByteRange): Promise<Buffer> {
    return this.observe('get', () => this.read(key, this.pathOf(key), range));
  }

  delete(keys: string[]): Promise<void> {
    return this.observe('delete', async () => {
      const files = keys.map((key) => this.pathOf(key));
      for (let i = 0; i < files.length; i += DELETE_CONCURRENCY) {
        await Promise.all(files.slice(i, i + DELETE_CONCURRENCY).map(unlinkIfPresent));
      }
    });
  }

  list(prefix: string): Promise<ObjectInfo[]> {
    return this.observe('list', async () => {
      // Only the directory part of the prefix narrows the walk; the rest filters names. A prefix
      // whose directory part is not a valid key path cannot match any key.
      const slash = prefix.lastIndexOf('/');
      const dirKey = slash < 0 ? '' : prefix.slice(0, slash);
      if (dirKey !== '' && keyProblem(dirKey) !== undefined) return [];
      const found: ObjectInfo[] = [];
      await this.walk(dirKey, prefix, found);
      return found.sort((a, b) => compareKeys(a.key, b.key));
    });
  }

  async close(): Promise<void> {}

  private pathOf(key: string): string {
    const problem = keyProblem(key);
    if (problem !== undefined) throw new InvalidKeyError(key, problem);
    return path.join(this.rootDir, key);
  }

  private async write(file: string, body: ObjectBody): Promise<void> {
    const dir = path.dirname(file);
    await this.ensureDir(dir);
    const temp = path.join(dir, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    let handle;
    try {
      handle = await open(temp, 'wx');
    } catch (error) {
      if (!isCode(error, 'ENOENT')) throw error;
      // The directory was removed behind our back since we made it.
      this.durableDirs.delete(dir);
      await this.ensureDir(dir);
      handle = await open(temp, 'wx');
    }
    try {
      try {
        if (Buffer.isBuffer(body)) {
          await handle.writeFile(body);
        } else {
          // libuv writes every buffer of one writev call (in IOV_MAX steps), or fails.
          const { bytesWritten } = await handle.writev(body as Buffer[]);
          if (bytesWritten !== bodyLength(body)) {
            throw new Error(`wrote ${bytesWritten} of ${bodyLength(body)} bytes to ${temp}`);
          }
        }
        await handle.datasync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    } catch (error) {
      await unlinkIfPresent(temp).catch(() => {});
      throw error;
    }
    await syncDir(dir);
  }

  private ensureDir(dir: string): Promise<void> {
    let ready = this.durableDirs.get(dir);
    if (!ready) {
      ready = this.makeDurableDir(dir);
      this.durableDirs.set(dir, ready);
      ready.catch(() => this.durableDirs.delete(dir));
    }
    return ready;
  }

  private async makeDurableDir(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    // A file's directory entry survives a power loss only if every directory entry leading to it
    // does too. Sync the chain whether this process created it or a crashed predecessor did.
    let d = dir;
    while (d !== this.rootDir) {
      d = path.dirname(d);
      await syncDir(d);
    }
  }

  private async read(key: string, file: string, range?: ByteRange): Promise<Buffer> {
    if (range) checkRange(range);
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      throw notFoundOr(error, key);
    }
    try {
      const info = await handle.stat();
      if (!info.isFile()) throw new ObjectNotFoundError(key);
      const start = range?.start ?? 0;
      const end = range?.end ?? info.size;
      if (end > info.size) {
        throw new RangeError(`range [${start}, ${end}) is outside ${key} (${info.size} bytes)`);
      }
      const out = Buffer.allocUnsafe(end - start);
      let filled = 0;
      while (filled < out.length) {
        const { bytesRead } = await handle.read(out, filled, out.length - filled, start + filled);
        // The object shrank under us; objects are immutable, so the file is not a valid object.
        if (bytesRead === 0) throw new Error(`short read of ${key}: ${filled} of ${out.length}`);
        filled += bytesRead;
      }
      return out;
    } finally {
      await handle.close();
    }
  }

  private async walk(dirKey: string, prefix: string, found: ObjectInfo[]): Promise<void> {
    let entries;
    try {
      entries = await readdir(path.join(this.rootDir, dirKey), { withFileTypes: true });
    } catch (error) {
      if (isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR')) return;
      throw error;
    }
    await Promise.all(
      entries.map(async (entry) => {
        if (entry.name.startsWith(TEMP_PREFIX)) return;
        const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
        if (entry.isDirectory()) {
          // Descend only where keys can still match the prefix.
          const sub = `${key}/`;
          if (sub.startsWith(prefix) || prefix.startsWith(sub)) await this.walk(key, prefix, found);
        } else if (entry.isFile() && key.startsWith(prefix)) {
          try {
            const info = await stat(path.join(this.rootDir, key));
            found.push({ key, size: info.size, lastModified: info.mtime });
          } catch (error) {
            if (!isCode(error, 'ENOENT')) throw error; // deleted while listing
          }
        }
      }),
    );
  }

  private async observe<T>(op: ObjectStoreOp, run: () => Promise<T>): Promise<T> {
    const started = performance.now();
    let result: T;
    try {
      result = await run();
    } catch (error) {
      this.notify(op, performance.now() - started, error);
      throw error;
    }
    this.notify(op, performance.now() - started);
    return result;
  }

  private notify(op: ObjectStoreOp, durationMs: number, error?: unknown): void {
    try {
      this.onRequest?.(op, durationMs, error);
    } catch {
      // An observer's bug must not fail an operation that succeeded.
    }
  }
}

export class InvalidKeyError extends Error {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`invalid object key ${JSON.stringify(key)}: ${reason}`);
    this.name = 'InvalidKeyError';
  }
}

/** Why a key cannot name a file under the root, or undefined when it can. */
function keyProblem(key: string): string | undefined {
  if (key === '') return 'empty';
  if (key.includes('\0')) return 'contains NUL';
  if (key.includes('\\')) return 'contains a backslash';
  if (key.startsWith('/')) return 'absolute';
  for (const segment of key.split('/')) {
    if (segment === '') return 'empty path segment';
    if (segment === '.' || segment === '..') return `"${segment}" path segment`;
    if (segment.startsWith(TEMP_PREFIX)) return `segment starts with reserved "${TEMP_PREFIX}"`;
  }
  return undefined;
}

function checkRange({ start, end }: ByteRange): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`invalid byte range [${start}, ${end})`);
  }
}

/** S3 orders keys by UTF-8 bytes, which is code point order (not JS's UTF-16 order). */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.codePointAt(i)!;
    const cb = b.codePointAt(i)!;
    if (ca !== cb) return ca - cb;
    if (ca > 0xffff) i++;
  }
  return a.length - b.length;
}

async function unlinkIfPresent(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (error) {
    if (!isCode(error, 'ENOENT') && !isCode(error, 'ENOTDIR')) throw error;
  }
}

function notFoundOr(error: unknown, key: string): unknown {
  return isCode(error, 'ENOENT') || isCode(error, 'ENOTDIR') ? new ObjectNotFoundError(key) : error;
}

function isCode(error: unknown, code: string): boolean {
  return (error as NodeJS.ErrnoException | undefined)?.code === code;
}
