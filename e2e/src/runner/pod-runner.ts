// The emulated cluster's node: the workload controllers (Deployments, StatefulSets, Jobs,
// CronJobs on demand), a kubelet that runs every Pod as real processes on its own loopback
// address, kube-proxy for Services and the cluster DNS. It talks to the API server over HTTP
// like the real components and reconciles everything on each pass (every 200 ms, or sooner
// when a pod changes).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KObject } from '../apiserver/types.js';
import { ClusterDns } from './cluster-dns.js';
import {
  ApiError,
  CRONJOBS,
  DEPLOYMENTS,
  JOBS,
  KubeClient,
  PODS,
  SERVICES,
  STATEFULSETS,
  type ResourcePath,
} from './kube-client.js';
import type { Obj } from './pod-spec.js';
import { RunningPod } from './running-pod.js';
import { ServiceProxy, type Endpoint } from './service-proxy.js';
import {
  jobFromCronJob,
  planDeployment,
  planJob,
  planStatefulSet,
  type PodPlan,
} from './workloads.js';

export interface PodRunnerOptions {
  /** The API server's URL. */
  server: string;
  /** kubeconfig that pods use to reach the API (the operator's pod, kubectl in a Job). */
  kubeconfig: string;
  /** The cluster's DNS suffix; one per run keeps runners on one machine apart. */
  clusterDomain: string;
  syncIntervalMs?: number;
}

const key = (o: { metadata: { namespace?: string; name?: string } }) =>
  `${o.metadata.namespace ?? ''}/${o.metadata.name}`;

function matches(
  selector: Record<string, string> | undefined,
  labels: Record<string, string> = {},
): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

export class PodRunner {
  private readonly kube: KubeClient;
  private readonly dns: ClusterDns;
  private readonly runDir: string;
  /** Pods with processes, by namespace/name (terminating ones until their processes exit). */
  private readonly running = new Map<string, RunningPod>();
  private readonly terminating = new Set<Promise<void>>();
  private readonly proxies = new Map<string, { ip: string; proxies: Map<number, ServiceProxy> }>();
  private readonly dirtyStatus = new Set<RunningPod>();
  private timer?: NodeJS.Timeout;
  private passing?: Promise<void>;
  private stopped = false;
  /** The last error of a pass, for test diagnostics; passes go on regardless. */
  lastError?: unknown;

  private constructor(private readonly options: PodRunnerOptions) {
    this.kube = new KubeClient(options.server);
    this.dns = ClusterDns.open();
    this.runDir = mkdtempSync(join(tmpdir(), 'kafscale-pods-'));
  }

  static start(options: PodRunnerOptions): PodRunner {
    const runner = new PodRunner(options);
    runner.schedule(0);
    return runner;
  }

  pods(namespace?: string): RunningPod[] {
    return [...this.running.values()].filter((p) => !namespace || p.namespace === namespace);
  }

  pod(namespace: string, name: string): RunningPod | undefined {
    return this.running.get(`${namespace}/${name}`);
  }

  /** Every pod's output, for a failing test's message. */
  logs(): string {
    return this.pods()
      .map((p) => `=== pod ${p.namespace}/${p.name}\n${p.logs().slice(-20_000)}`)
      .join('\n');
  }

  /** Starts a Job from a CronJob now, as `kubectl create job --from=cronjob/NAME` does. */
  async runCronJob(namespace: string, name: string): Promise<string> {
    const cronJob = await this.kube.get(CRONJOBS, namespace, name);
    if (!cronJob) throw new Error(`cronjob ${namespace}/${name} not found`);
    const jobName = `${name}-manual-${Date.now().toString(36)}`.slice(0, 63);
    await this.kube.create(JOBS, jobFromCronJob(cronJob, jobName));
    this.schedule(0);
    return jobName;
  }

  private schedule(delayMs = this.options.syncIntervalMs ?? 200): void {
    if (this.stopped) return;
    if (this.timer) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.passing) return this.schedule(20);
      this.passing = this.pass()
        .catch((e: unknown) => {
          this.lastError = e;
        })
        .finally(() => {
          this.passing = undefined;
          this.schedule();
        });
    }, delayMs);
  }

  private async pass(): Promise<void> {
    const pods = await this.kube.list(PODS);
    await this.kubelet(pods);
    await this.flushStatus();
    const fresh = await this.kube.list(PODS);
    for (const d of await this.kube.list(DEPLOYMENTS))
      await this.apply(DEPLOYMENTS, d, planDeployment(d, fresh));
    for (const s of await this.kube.list(STATEFULSETS))
      await this.apply(STATEFULSETS, s, planStatefulSet(s, fresh));
    for (const j of await this.kube.list(JOBS)) {
      const plan = planJob(j, fresh);
      await this.apply(JOBS, j, plan);
      if (plan.finished) await this.recordCronJobRun(j, plan.finished);
    }
    await this.services(await this.kube.list(SERVICES));
  }

  /** Starts processes for new Pods, stops those whose Pod is gone, refreshes volumes. */
  private async kubelet(pods: KObject[]): Promise<void> {
    const present = new Map(pods.map((p) => [key(p), p]));
    for (const [k, running] of this.running) {
      const pod = present.get(k);
      if (!pod || pod.metadata.uid !== running.uid || pod.metadata.deletionTimestamp) {
        this.stopPod(k, running);
      }
    }
    const started: RunningPod[] = [];
    for (const pod of pods) {
      if (this.running.has(key(pod)) || pod.metadata.deletionTimestamp) continue;
      if (
        ['Succeeded', 'Failed'].includes(((pod.status as Obj | undefined)?.phase as string) ?? '')
      )
        continue;
      const running = new RunningPod(pod, this.dns.allocatePodIp(), this.runDir, {
        kube: this.kube,
        kubeconfig: this.options.kubeconfig,
        claimDir: (ns, claim) => join(this.runDir, 'claims', ns, claim),
        onChange: (p) => {
          this.dirtyStatus.add(p);
          this.schedule(0);
        },
      });
      this.running.set(key(pod), running);
      this.dirtyStatus.add(running);
      started.push(running);
    }
    // Names first: a pod may resolve its own name (etcd's peer URLs) as soon as it starts.
    if (started.length > 0) await this.services(await this.kube.list(SERVICES));
    await Promise.all(started.map((p) => p.start()));
    await Promise.all(
      this.pods()
        .filter((p) => !p.terminating && !started.includes(p))
        .map((p) => p.refreshVolumes().catch(() => undefined)),
    );
  }

  private stopPod(k: string, running: RunningPod): void {
    if (running.terminating) return;
    const done = running.terminate().finally(() => {
      if (this.running.get(k) === running) this.running.delete(k);
      this.terminating.delete(done);
      this.schedule(0);
    });
    this.terminating.add(done);
  }

  private async flushStatus(): Promise<void> {
    const dirty = [...this.dirtyStatus];
    this.dirtyStatus.clear();
    for (const p of dirty) {
      if (p.terminating) continue;
      try {
        await this.kube.writeStatus(PODS, p.namespace, p.name, (current) =>
          current.metadata.uid === p.uid ? p.status() : current.status,
        );
      } catch (e) {
        this.dirtyStatus.add(p);
        throw e;
      }
    }
  }

  private async apply(resource: ResourcePath, owner: KObject, plan: PodPlan): Promise<void> {
    if (owner.metadata.deletionTimestamp) return;
    for (const pod of plan.create) {
      try {
        await this.kube.create(PODS, pod);
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 409)) throw e;
      }
    }
    for (const name of plan.remove) await this.kube.delete(PODS, owner.metadata.namespace!, name);
    await this.kube.writeStatus(
      resource,
      owner.metadata.namespace!,
      owner.metadata.name!,
      (current) => ({
        ...(current.status as Obj | undefined),
        ...plan.status,
      }),
    );
    if (plan.create.length > 0 || plan.remove.length > 0) this.schedule(0);
  }

  private async recordCronJobRun(job: KObject, finished: 'Complete' | 'Failed'): Promise<void> {
    const owner = job.metadata.ownerReferences?.find((r) => r.kind === 'CronJob');
    if (!owner) return;
    const status = job.status as Obj | undefined;
    await this.kube.writeStatus(CRONJOBS, job.metadata.namespace!, owner.name, (current) => {
      const next: Obj = { ...(current.status as Obj | undefined) };
      next.lastScheduleTime ??= (status?.startTime as string) ?? new Date().toISOString();
      if (finished === 'Complete' && status?.completionTime) {
        const last = next.lastSuccessfulTime as string | undefined;
        if (!last || last < (status.completionTime as string))
          next.lastSuccessfulTime = status.completionTime;
      }
      return next;
    });
  }

  /** Cluster DNS records and a proxy per Service port with a cluster IP. */
  private async services(services: KObject[]): Promise<void> {
    const domain = this.options.clusterDomain;
    const records = new Map<string, string[]>();
    const add = (name: string, ip: string) => records.set(name, [...(records.get(name) ?? []), ip]);
    const live = new Set<string>();
    for (const svc of services) {
      const spec = (svc.spec ?? {}) as Obj;
      const ns = svc.metadata.namespace!;
      const fqdn = `${svc.metadata.name}.${ns}.svc.${domain}`;
      const selector = spec.selector as Record<string, string> | undefined;
      const members = this.pods(ns).filter(
        (p) => !p.terminating && matches(selector, p.pod.metadata.labels),
      );
      if (spec.clusterIP === 'None') {
        for (const p of members) {
          if (!spec.publishNotReadyAddresses && !p.ready) continue;
          add(fqdn, p.ip);
          add(`${p.ip.replace(/\./g, '-')}.${fqdn}`, p.ip);
          const podSpec = p.pod.spec as Obj;
          if (podSpec.hostname && podSpec.subdomain === svc.metadata.name)
            add(`${podSpec.hostname}.${fqdn}`, p.ip);
        }
        continue;
      }
      const k = svc.metadata.uid!;
      live.add(k);
      let entry = this.proxies.get(k);
      if (!entry) {
        entry = { ip: this.dns.allocateServiceIp(), proxies: new Map() };
        this.proxies.set(k, entry);
      }
      add(fqdn, entry.ip);
      for (const port of (spec.ports ?? []) as Obj[]) {
        const number = port.port as number;
        let proxy = entry.proxies.get(number);
        if (!proxy) {
          proxy = await ServiceProxy.start(entry.ip, number);
          entry.proxies.set(number, proxy);
        }
        const endpoints: Endpoint[] = [];
        for (const p of members.filter((m) => m.ready)) {
          const target = this.targetPort(p, port.targetPort ?? number);
          if (target !== undefined) endpoints.push({ ip: p.ip, port: target });
        }
        proxy.setEndpoints(endpoints);
      }
    }
    for (const [k, entry] of this.proxies) {
      if (live.has(k)) continue;
      this.proxies.delete(k);
      await Promise.all([...entry.proxies.values()].map((p) => p.stop()));
    }
    this.dns.setRecords(records);
  }

  private targetPort(pod: RunningPod, target: unknown): number | undefined {
    if (typeof target === 'number') return target;
    if (/^\d+$/.test(String(target))) return Number(target);
    for (const c of ((pod.pod.spec as Obj).containers ?? []) as Obj[]) {
      const found = ((c.ports ?? []) as Obj[]).find((p) => p.name === target);
      if (found) return found.containerPort as number;
    }
    return undefined;
  }

  /** Stops every pod (SIGKILL after `graceSeconds`), the proxies and the DNS records. */
  async stop(graceSeconds = 5): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.passing;
    await Promise.all(this.pods().map((p) => p.terminate(graceSeconds)));
    await Promise.all([...this.terminating]);
    for (const entry of this.proxies.values()) {
      await Promise.all([...entry.proxies.values()].map((p) => p.stop()));
    }
    this.dns.close();
    rmSync(this.runDir, { recursive: true, force: true });
  }
}
