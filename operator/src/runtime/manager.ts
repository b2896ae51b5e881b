import type { KubernetesObject } from '@kubernetes/client-node';
import type { Controller } from './controller.js';
import type { Informer } from './informer.js';
import { LeaderElector, type LeaderElectionOptions } from './leader-election.js';

export interface ManagerOptions {
  /** Without it this replica always leads (one replica, or leader election turned off). */
  leaderElection?: Omit<LeaderElectionOptions, 'onStartedLeading' | 'onStoppedLeading'>;
  onLeadershipChange?: (leading: boolean) => void;
}

/**
 * Runs informers and controllers: informers always, controllers' workers only while leading.
 * Stopping releases the Lease only after running reconciles finished, so two leaders never
 * overlap.
 */
export class Manager {
  private readonly informers: Informer<KubernetesObject>[] = [];
  private readonly controllers: Controller[] = [];
  private readonly closers: (() => Promise<void>)[] = [];
  private elector?: LeaderElector;
  private leading = false;
  private started = false;

  constructor(private readonly options: ManagerOptions = {}) {}

  addInformer<T extends KubernetesObject>(informer: Informer<T>): Informer<T> {
    this.informers.push(informer as unknown as Informer<KubernetesObject>);
    return informer;
  }

  addController(controller: Controller): Controller {
    this.controllers.push(controller);
    return controller;
  }

  /** Runs on stop, once no reconcile runs any more: connections the reconcilers keep open. */
  onStop(close: () => Promise<void>): void {
    this.closers.push(close);
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** Ready: every informer listed once (whether or not this replica leads). */
  isReady(): boolean {
    return this.started && this.informers.every((i) => i.hasSynced());
  }

  async start(): Promise<void> {
    this.started = true;
    for (const i of this.informers) i.start();
    await Promise.all(this.informers.map((i) => i.waitForSync()));
    const le = this.options.leaderElection;
    if (!le) {
      this.becomeLeader();
      return;
    }
    this.elector = new LeaderElector({
      ...le,
      onStartedLeading: () => this.becomeLeader(),
      onStoppedLeading: () => void this.loseLeadership(),
    });
    this.elector.start();
  }

  async stop(): Promise<void> {
    const wasLeading = this.leading;
    this.leading = false;
    await Promise.all(this.controllers.map((c) => c.stopWorkers()));
    await this.elector?.stop();
    await Promise.all(this.informers.map((i) => i.stop()));
    await Promise.all(this.closers.map((close) => close().catch(() => undefined)));
    if (wasLeading) this.options.onLeadershipChange?.(false);
  }

  private becomeLeader(): void {
    if (this.leading) return;
    this.leading = true;
    for (const c of this.controllers) c.startWorkers();
    this.options.onLeadershipChange?.(true);
  }

  private async loseLeadership(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    await Promise.all(this.controllers.map((c) => c.stopWorkers()));
    this.options.onLeadershipChange?.(false);
  }
}
