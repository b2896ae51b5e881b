// Counts the PUTs an object store receives, and can make them fail, by wrapping the instance the
// broker already holds (its LogManager and packer call the same object).
import type { ObjectStore } from '../../src/storage/object-store.js';

export interface PutRecorder {
  /** Keys of successful PUTs, in completion order. */
  readonly keys: string[];
  /** While set, every PUT rejects (an S3 outage). */
  fail: boolean;
  /** PUTs attempted so far, failed ones included. */
  attempts: number;
  restore(): void;
}

export function recordPuts(objects: ObjectStore): PutRecorder {
  const original = objects.put.bind(objects);
  const recorder: PutRecorder = {
    keys: [],
    fail: false,
    attempts: 0,
    restore: () => {
      objects.put = original;
    },
  };
  objects.put = async (key, body) => {
    recorder.attempts++;
    if (recorder.fail) throw new Error(`injected PUT failure: ${key}`);
    await original(key, body);
    recorder.keys.push(key);
  };
  return recorder;
}
