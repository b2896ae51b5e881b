import { Watch, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { Backoff, sleep } from './backoff.js';

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export interface InformerOptions<T extends KubernetesObject> {
  /** For logs and metrics. */
  name: string;
  kubeConfig: KubeConfig;
  /** Collection path to watch, e.g. `/apis/kafscale.io/v1alpha1/kafscaleclusters`. */
  path: string;
  labelSelector?: string;
  list: () => Promise<ListResult<T>>;
  /** Asked of the server on every watch, so a dead connection cannot outlive it. */
  watchTimeoutSeconds?: number;
  /** A watch silent for longer is treated as dead and restarted. */
  livenessMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  onError?: (error: unknown) => void;
}

export type InformerEvent = 'add' | 'update' | 'delete';
export type InformerListener<T> = (event: InformerEvent, object: T) => void;

interface WatchEventObject {
  code?: number;
  reason?: string;
  message?: string;
  metadata?: { resourceVersion?: string };
}

class ExpiredError extends Error {}

export function objectKey(o: KubernetesObject): string {
  const m = o.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name}` : (m.name ?? '');
}

/**
 * A cache of one kind kept current by list + watch. client-node's own informer stops for good on
 * some errors and can hang on a dead connection, so this one owns the loop: every watch carries
 * `timeoutSeconds`, a liveness timer restarts a watch that went silent, 410 Gone relists, and
 * every other failure retries with exponential backoff. A relist reports what changed while the
 * watch was down (including deletions) as events.
 */
export class Informer<T extends KubernetesObject> {
  private readonly store = new Map<string, T>();
  private readonly listeners: InformerListener<T>[] = [];
  private readonly abort = new AbortController();
  private readonly backoff: Backoff;
  private resourceVersion = '';
  private synced = false;
  private syncedWaiters: (() => void)[] = [];
  private loop?: Promise<void>;
  private lastActivity = Date.now();
  /** Watches (re)started and relists done, for tests and metrics. */
  readonly stats = { watches: 0, relists: 0, restartsForSilence: 0 };

  constructor(private readonly options: InformerOptions<T>) {
    this.backoff = new Backoff(options.backoffInitialMs ?? 200, options.backoffMaxMs ?? 30_000);
  }

  on(listener: InformerListener<T>): void {
    this.listeners.push(listener);
  }

  get(key: string): T | undefined {
    return this.store.get(key);
  }

  list(): T[] {
    return [...this.store.values()];
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** Milliseconds since the last list or watch event: a health signal. */
  silenceMs(): number {
    return Date.now() - this.lastActivity;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Resolves after the first successful list. */
  waitForSync(): Promise<void> {
    if (this.synced) return Promise.resolve();
    return new Promise((r) => this.syncedWaiters.push(r));
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.loop;
    for (const w of this.syncedWaiters.splice(0)) w();
  }

  private emit(event: InformerEvent, object: T): void {
    for (const l of this.listeners) {
      try {
        l(event, object);
      } catch (error) {
        this.options.onError?.(error);
      }
    }
  }

  private async run(): Promise<void> {
    let needList = true;
    while (!this.abort.signal.aborted) {
      try {
        if (needList) {
          await this.relist();
          needList = false;
        }
        await this.watchOnce();
        // A watch the server ended normally resumes at once from the last resourceVersion.
        this.backoff.reset();
      } catch (error) {
        if (this.abort.signal.aborted) break;
        if (error instanceof ExpiredError) {
          needList = true;
          continue;
        }
        this.options.onError?.(error);
        await sleep(this.backoff.next(), this.abort.signal);
      }
    }
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.options.list();
    this.stats.relists++;
    this.lastActivity = Date.now();
    const seen = new Set<string>();
    for (const item of items) {
      const key = objectKey(item);
      seen.add(key);
      const old = this.store.get(key);
      this.store.set(key, item);
      if (!old) this.emit('add', item);
      else if (old.metadata?.resourceVersion !== item.metadata?.resourceVersion) {
        this.emit('update', item);
      }
    }
    for (const [key, old] of [...this.store]) {
      if (!seen.has(key)) {
        this.store.delete(key);
        this.emit('delete', old);
      }
    }
    this.resourceVersion = resourceVersion;
    this.backoff.reset();
    if (!this.synced) {
      this.synced = true;
      for (const w of this.syncedWaiters.splice(0)) w();
    }
  }

  private watchOnce(): Promise<void> {
    const timeoutSeconds = this.options.watchTimeoutSeconds ?? 300;
    const livenessMs = this.options.livenessMs ?? (timeoutSeconds + 30) * 1000;
    this.stats.watches++;
    return new Promise<void>((resolve, reject) => {
      let finished = false;
      let controller: AbortController | undefined;
      let liveness: NodeJS.Timeout | undefined;
      const finish = (error?: Error): void => {
        if (finished) return;
        finished = true;
        clearTimeout(liveness);
        this.abort.signal.removeEventListener('abort', onAbort);
        controller?.abort();
        if (error) reject(error);
        else resolve();
      };
      const onAbort = (): void => finish();
      const armLiveness = (): void => {
        clearTimeout(liveness);
        liveness = setTimeout(() => {
          this.stats.restartsForSilence++;
          finish(new Error(`${this.options.name}: watch silent for ${livenessMs} ms, restarting`));
        }, livenessMs);
      };
      this.abort.signal.addEventListener('abort', onAbort, { once: true });
      armLiveness();

      const onEvent = (type: string, object: unknown): void => {
        if (finished) return;
        this.lastActivity = Date.now();
        armLiveness();
        if (type === 'ERROR') {
          const status = object as WatchEventObject;
          if (status.code === 410) finish(new ExpiredError(status.message ?? 'Expired'));
          else finish(new Error(`${this.options.name}: watch error ${JSON.stringify(status)}`));
          return;
        }
        const rv = (object as WatchEventObject).metadata?.resourceVersion;
        if (type === 'BOOKMARK') {
          if (rv) this.resourceVersion = rv;
          return;
        }
        const item = object as T;
        const key = objectKey(item);
        if (type === 'DELETED') {
          this.store.delete(key);
          this.emit('delete', item);
        } else if (type === 'ADDED' || type === 'MODIFIED') {
          const existed = this.store.has(key);
          this.store.set(key, item);
          this.emit(existed ? 'update' : 'add', item);
        }
        if (rv) this.resourceVersion = rv;
      };
      const onDone = (error: unknown): void => {
        if (!error) return finish();
        const code = (error as { statusCode?: number }).statusCode;
        if (code === 410) return finish(new ExpiredError('Gone'));
        finish(error instanceof Error ? error : new Error(String(error)));
      };
      const query: Record<string, string | number | boolean> = {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
      };
      if (this.options.labelSelector) query.labelSelector = this.options.labelSelector;
      new Watch(this.options.kubeConfig)
        .watch(this.options.path, query, onEvent, onDone)
        .then((c) => {
          // The request may have been abandoned (liveness, stop) while it connected.
          if (finished) c.abort();
          else controller = c;
        })
        .catch((error: unknown) => onDone(error ?? new Error('watch failed')));
    });
  }
}
