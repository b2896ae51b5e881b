import type { ByteRange, ObjectBody, ObjectInfo, ObjectStore } from './object-store.js';

/** Ranges further apart than this are read with GETs of their own. */
export const MAX_COALESCED_GAP_BYTES = 64 * 1024;
/** The most one coalesced GET reads. */
export const MAX_COALESCED_BYTES = 16 * 1024 * 1024;

interface Wanted {
  range: ByteRange;
  resolve: (data: Buffer) => void;
  reject: (err: unknown) => void;
}

/**
 * Range GETs of the same object asked for in the same turn of the event loop go out as one GET of
 * the range that covers them, when they lie close together. A packed object holds one piece of
 * every partition flushed with it: a consumer catching up on many partitions after a restart
 * asks for all of them at once (a fetch warms every partition it names), and reads each packed
 * object once instead of once per partition. Each caller gets a view of its own range.
 * Whole-object reads and writes pass straight through.
 */
export class CoalescingObjectStore implements ObjectStore {
  private pending = new Map<string, Wanted[]>();
  private scheduled = false;

  constructor(private readonly inner: ObjectStore) {}

  put(key: string, body: ObjectBody): Promise<void> {
    return this.inner.put(key, body);
  }

  get(key: string, range?: ByteRange): Promise<Buffer> {
    if (!range) return this.inner.get(key);
    return new Promise((resolve, reject) => {
      const wanted = this.pending.get(key);
      if (wanted) wanted.push({ range, resolve, reject });
      else this.pending.set(key, [{ range, resolve, reject }]);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.send());
      }
    });
  }

  delete(keys: string[]): Promise<void> {
    return this.inner.delete(keys);
  }

  list(prefix: string): Promise<ObjectInfo[]> {
    return this.inner.list(prefix);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private send(): void {
    this.scheduled = false;
    const pending = this.pending;
    this.pending = new Map();
    for (const [key, wanted] of pending) {
      for (const run of coalesce(wanted)) this.read(key, run);
    }
  }

  private read(key: string, run: Wanted[]): void {
    const start = run[0].range.start;
    const end = Math.max(...run.map((w) => w.range.end));
    this.inner.get(key, { start, end }).then(
      (data) => {
        // A read of its own is answered exactly as the store answered it.
        if (run.length === 1) return run[0].resolve(data);
        for (const w of run) {
          const to = w.range.end - start;
          if (to > data.length) {
            w.reject(
              new RangeError(`${key}: range ${w.range.start}-${w.range.end} beyond the object`),
            );
          } else {
            w.resolve(data.subarray(w.range.start - start, to));
          }
        }
      },
      (err: unknown) => run.forEach((w) => w.reject(err)),
    );
  }
}

/** Groups ranges (sorted by start) into runs whose gaps and total span stay within the limits. */
function coalesce(wanted: Wanted[]): Wanted[][] {
  const sorted = [...wanted].sort((a, b) => a.range.start - b.range.start);
  const runs: Wanted[][] = [];
  let run: Wanted[] = [];
  let runStart = 0;
  let runEnd = 0;
  for (const w of sorted) {
    const joins =
      run.length > 0 &&
      w.range.start - runEnd <= MAX_COALESCED_GAP_BYTES &&
      Math.max(runEnd, w.range.end) - runStart <= MAX_COALESCED_BYTES;
    if (!joins) {
      if (run.length > 0) runs.push(run);
      run = [];
      runStart = w.range.start;
      runEnd = w.range.end;
    }
    run.push(w);
    runEnd = Math.max(runEnd, w.range.end);
  }
  if (run.length > 0) runs.push(run);
  return runs;
}
