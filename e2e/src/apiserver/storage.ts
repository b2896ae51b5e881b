// The "etcd" of the emulator: every write across all resources takes the next value of one
// counter, as etcd's revision does, and a bounded history of events lets watches resume from a
// resourceVersion until it has been compacted away.
import type { KObject } from './types.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoredEvent {
  rv: number;
  type: EventType;
  /** `group/plural` */
  resource: string;
  object: KObject;
  /** The object before a MODIFIED, so selector watches can turn it into ADDED/DELETED. */
  previous?: KObject;
}

const keyOf = (namespace: string | undefined, name: string): string => `${namespace ?? ''}/${name}`;

const clone = <T>(v: T): T => structuredClone(v);

export class Storage {
  private revision = 1;
  private readonly objects = new Map<string, Map<string, KObject>>();
  private history: StoredEvent[] = [];
  /** Events at or below this revision are gone; watches from older versions get 410. */
  private compactedThrough = 0;
  private readonly listeners = new Set<(e: StoredEvent) => void>();

  constructor(private readonly historyLimit: number) {}

  currentRV(): number {
    return this.revision;
  }

  oldestWatchableRV(): number {
    return this.compactedThrough;
  }

  get(resource: string, namespace: string | undefined, name: string): KObject | undefined {
    const obj = this.objects.get(resource)?.get(keyOf(namespace, name));
    return obj ? clone(obj) : undefined;
  }

  /** Sorted by namespace then name, which is also the order `continue` tokens walk. */
  list(resource: string, namespace?: string): KObject[] {
    const bucket = this.objects.get(resource);
    if (!bucket) return [];
    const out: KObject[] = [];
    for (const obj of bucket.values()) {
      if (namespace === undefined || obj.metadata.namespace === namespace) out.push(clone(obj));
    }
    return out.sort((a, b) => compareKeys(a, b));
  }

  resources(): string[] {
    return [...this.objects.keys()];
  }

  /** Stores the object with the next resourceVersion and returns the stored copy. */
  put(resource: string, obj: KObject, type: 'ADDED' | 'MODIFIED'): KObject {
    const bucket = this.objects.get(resource) ?? new Map<string, KObject>();
    this.objects.set(resource, bucket);
    const key = keyOf(obj.metadata.namespace, obj.metadata.name!);
    const previous = bucket.get(key);
    const stored = clone(obj);
    stored.metadata.resourceVersion = String(++this.revision);
    bucket.set(key, stored);
    this.record({ rv: this.revision, type, resource, object: stored, previous });
    return clone(stored);
  }

  remove(resource: string, namespace: string | undefined, name: string): KObject | undefined {
    const bucket = this.objects.get(resource);
    const key = keyOf(namespace, name);
    const existing = bucket?.get(key);
    if (!bucket || !existing) return undefined;
    bucket.delete(key);
    const gone = clone(existing);
    gone.metadata.resourceVersion = String(++this.revision);
    this.record({ rv: this.revision, type: 'DELETED', resource, object: gone });
    return clone(gone);
  }

  /** Events after `rv` for one resource, or `expired` when history no longer reaches back. */
  eventsSince(resource: string, rv: number): StoredEvent[] | 'expired' {
    if (rv < this.compactedThrough) return 'expired';
    return this.history.filter((e) => e.rv > rv && e.resource === resource);
  }

  subscribe(listener: (e: StoredEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Forgets all history, as an etcd compaction does: every older resourceVersion expires. */
  compact(): void {
    this.history = [];
    this.compactedThrough = this.revision;
  }

  private record(event: StoredEvent): void {
    this.history.push(event);
    if (this.history.length > this.historyLimit) {
      const dropped = this.history.splice(0, this.history.length - this.historyLimit);
      this.compactedThrough = dropped[dropped.length - 1].rv;
    }
    for (const l of this.listeners) l(event);
  }
}

export function compareKeys(a: KObject, b: KObject): number {
  const ka = keyOf(a.metadata.namespace, a.metadata.name ?? '');
  const kb = keyOf(b.metadata.namespace, b.metadata.name ?? '');
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}
