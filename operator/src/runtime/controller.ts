import type { KubernetesObject } from '@kubernetes/client-node';
import type { Informer } from './informer.js';
import { WorkQueue, type ReconcileHandler, type WorkQueueOptions } from './work-queue.js';

export interface ControllerOptions {
  name: string;
  reconcile: ReconcileHandler;
  /** Every key of the primary informer is queued this often, to repair drift nobody announced. */
  resyncMs?: number;
  queue?: WorkQueueOptions;
}

/**
 * One reconcile loop: events of the primary kind and of the kinds it owns become keys in a work
 * queue, processed only while `startWorkers` is in effect (while this replica leads). Informers
 * keep running without leadership, so a new leader starts from a warm cache.
 */
export class Controller {
  private queue?: WorkQueue;
  private resyncTimer?: NodeJS.Timeout;
  private primary?: Informer<KubernetesObject>;

  constructor(readonly options: ControllerOptions) {}

  /** The kind this controller reconciles: its keys are the objects' namespace/name. */
  watchPrimary<T extends KubernetesObject>(informer: Informer<T>, keyOf: (o: T) => string): this {
    this.primary = informer as unknown as Informer<KubernetesObject>;
    informer.on((_event, o) => this.enqueue(keyOf(o)));
    return this;
  }

  /** A related kind: its events queue the keys `keysOf` maps them to (e.g. the owner). */
  watchRelated<T extends KubernetesObject>(
    informer: Informer<T>,
    keysOf: (o: T) => string[],
  ): this {
    informer.on((_event, o) => {
      for (const key of keysOf(o)) this.enqueue(key);
    });
    return this;
  }

  enqueue(key: string): void {
    this.queue?.add(key);
  }

  isRunning(): boolean {
    return this.queue !== undefined;
  }

  startWorkers(): void {
    if (this.queue) return;
    const queue = new WorkQueue(this.options.queue);
    this.queue = queue;
    queue.start(this.options.reconcile);
    this.resyncAll();
    const resyncMs = this.options.resyncMs ?? 120_000;
    this.resyncTimer = setInterval(() => this.resyncAll(), resyncMs);
    this.resyncTimer.unref();
  }

  /** Stops taking work and waits for running reconciles. */
  async stopWorkers(): Promise<void> {
    clearInterval(this.resyncTimer);
    const queue = this.queue;
    this.queue = undefined;
    await queue?.shutdown();
  }

  private resyncAll(): void {
    for (const o of this.primary?.list() ?? []) {
      const m = o.metadata ?? {};
      this.enqueue(m.namespace ? `${m.namespace}/${m.name}` : (m.name ?? ''));
    }
  }
}
