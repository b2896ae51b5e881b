// Object keys of segments and their indexes. The writer id in every key makes a key unique to
// the bytes one writer produced, so a fenced or retrying leader can never overwrite data another
// writer committed; which objects are committed is decided by the etcd manifest, not by keys.
import { randomBytes } from 'node:crypto';

export type SegmentObjectKind = 'segment' | 'index';

export interface SegmentKeyParts {
  namespace: string;
  topic: string;
  partition: number;
  baseOffset: number;
  writerId: string;
}

export interface ParsedSegmentKey extends SegmentKeyParts {
  kind: SegmentObjectKind;
}

const OFFSET_DIGITS = 20;
const TOPIC = /^[a-zA-Z0-9._-]{1,249}$/;
const WRITER_ID = /^[a-z0-9-]{1,64}$/;
const NAMESPACE_PART = /^[a-zA-Z0-9._-]+$/;
const FILE_NAME = /^segment-(\d{20})-([a-z0-9-]{1,64})\.(kfs|index)$/;
const PARTITION = /^(0|[1-9]\d{0,9})$/;
const EXTENSION: Record<SegmentObjectKind, string> = { segment: 'kfs', index: 'index' };

function isNamespace(namespace: string): boolean {
  return namespace.length > 0 && namespace.split('/').every((part) => NAMESPACE_PART.test(part));
}

function check(parts: SegmentKeyParts): void {
  const { namespace, topic, partition, baseOffset, writerId } = parts;
  if (!isNamespace(namespace)) throw new RangeError(`invalid namespace ${namespace}`);
  if (!TOPIC.test(topic) || topic === '.' || topic === '..') {
    throw new RangeError(`invalid topic ${topic}`);
  }
  if (!Number.isInteger(partition) || partition < 0 || partition > 0x7fffffff) {
    throw new RangeError(`invalid partition ${partition}`);
  }
  if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) {
    throw new RangeError(`invalid base offset ${baseOffset}`);
  }
  if (!WRITER_ID.test(writerId)) throw new RangeError(`invalid writer id ${writerId}`);
}

/** The key prefix under which all objects of one partition live (for sweeping). */
export function partitionPrefix(namespace: string, topic: string, partition: number): string {
  return `${namespace}/${topic}/${partition}/`;
}

export function segmentObjectKey(parts: SegmentKeyParts, kind: SegmentObjectKind): string {
  check(parts);
  const offset = String(parts.baseOffset).padStart(OFFSET_DIGITS, '0');
  const prefix = partitionPrefix(parts.namespace, parts.topic, parts.partition);
  return `${prefix}segment-${offset}-${parts.writerId}.${EXTENSION[kind]}`;
}

export function segmentKeys(parts: SegmentKeyParts): { segment: string; index: string } {
  return { segment: segmentObjectKey(parts, 'segment'), index: segmentObjectKey(parts, 'index') };
}

/** A fresh writer id: the leader epoch (readable in listings) plus 48 random bits. */
export function newWriterId(leaderEpoch: number): string {
  if (!Number.isInteger(leaderEpoch) || leaderEpoch < 0) {
    throw new RangeError(`invalid leader epoch ${leaderEpoch}`);
  }
  return `${leaderEpoch}-${randomBytes(6).toString('hex')}`;
}

/** Parses a segment or index key; anything else (e.g. a stray object in a listing) is null. */
export function parseSegmentKey(key: string): ParsedSegmentKey | null {
  const parts = key.split('/');
  if (parts.length < 4) return null;
  const [partitionText, fileName] = parts.slice(-2);
  const topic = parts[parts.length - 3];
  const namespace = parts.slice(0, -3).join('/');
  const file = FILE_NAME.exec(fileName);
  if (file === null || !PARTITION.test(partitionText)) return null;
  const baseOffset = Number(file[1]);
  const parsed: ParsedSegmentKey = {
    namespace,
    topic,
    partition: Number(partitionText),
    baseOffset,
    writerId: file[2],
    kind: file[3] === 'kfs' ? 'segment' : 'index',
  };
  try {
    check(parsed);
  } catch {
    return null;
  }
  return parsed;
}
