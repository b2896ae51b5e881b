import { KubeConfig } from '@kubernetes/client-node';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import winston from 'winston';
import { DEFAULT_BUILD_OPTIONS } from './builders/options.js';
import { createOperator } from './operator.js';
import type { SnapshotSink } from './reconcilers/cluster.js';
import type { Manager } from './runtime/manager.js';
import type { ReconcileHandler } from './runtime/work-queue.js';

export interface OperatorFlags {
  brokerImage: string;
  clusterDomain: string;
  metricsAddr: string;
  logLevel: string;
  leaderElect: boolean;
  leaderElectionNamespace: string;
  leaderElectionId: string;
  watchNamespaces: string[];
  kubeconfig?: string;
}

const LOG_LEVELS = ['error', 'warn', 'info', 'debug'];
const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function parseBool(flag: string, v: string | undefined, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (v === '' || v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw new Error(`--${flag}: expected true or false, got ${JSON.stringify(v)}`);
}

function defaultNamespace(): string {
  if (process.env.POD_NAMESPACE) return process.env.POD_NAMESPACE;
  if (existsSync(SERVICE_ACCOUNT_NAMESPACE)) {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim();
  }
  return 'default';
}

/** Parses the operator's command line (the flags the Helm chart passes). */
export function parseFlags(args: string[]): OperatorFlags {
  // A bare `--leader-elect` means true; parseArgs takes the flag as a string for `=false`.
  const normalised = args.map((a) => (a === '--leader-elect' ? '--leader-elect=true' : a));
  const { values } = parseArgs({
    args: normalised,
    strict: true,
    allowPositionals: false,
    options: {
      'broker-image': { type: 'string' },
      'cluster-domain': { type: 'string' },
      'metrics-addr': { type: 'string' },
      'log-level': { type: 'string' },
      'leader-elect': { type: 'string' },
      'leader-election-namespace': { type: 'string' },
      'leader-election-id': { type: 'string' },
      'watch-namespaces': { type: 'string' },
      kubeconfig: { type: 'string' },
    },
  });
  const logLevel = values['log-level'] ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new Error(`--log-level: expected one of ${LOG_LEVELS.join(', ')}, got ${logLevel}`);
  }
  return {
    brokerImage: values['broker-image'] || DEFAULT_BUILD_OPTIONS.brokerImage,
    clusterDomain: values['cluster-domain'] || DEFAULT_BUILD_OPTIONS.clusterDomain,
    metricsAddr: values['metrics-addr'] ?? ':8080',
    logLevel,
    leaderElect: parseBool('leader-elect', values['leader-elect'], false),
    leaderElectionNamespace: values['leader-election-namespace'] || defaultNamespace(),
    leaderElectionId: values['leader-election-id'] || 'kafscale-operator',
    watchNamespaces: (values['watch-namespaces'] ?? '')
      .split(',')
      .map((n) => n.trim())
      .filter((n) => n !== ''),
    kubeconfig: values.kubeconfig,
  };
}

/** `:8080`, `0.0.0.0:8080`, `127.0.0.1:0`, `[::1]:8080`. */
export function parseListenAddress(addr: string): { host?: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*))?:(\d+)$/.exec(addr);
  if (!m) throw new Error(`--metrics-addr: expected [HOST]:PORT, got ${JSON.stringify(addr)}`);
  const host = m[1] ?? m[2];
  return { host: host || undefined, port: Number(m[3]) };
}

export function loadKubeConfig(path?: string): KubeConfig {
  const kc = new KubeConfig();
  if (path) kc.loadFromFile(path);
  else if (process.env.KUBERNETES_SERVICE_HOST && !process.env.KUBECONFIG) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

/** The kind label of a controller's metrics. */
const KINDS: Record<string, string> = {
  kafscalecluster: 'KafScaleCluster',
  kafscaletopic: 'KafScaleTopic',
};

export interface OperatorMetrics {
  registry: Registry;
  instrument: (controller: string, handler: ReconcileHandler) => ReconcileHandler;
  /** Where the cluster reconciler reports etcd snapshot observations. */
  snapshots: SnapshotSink;
}

export function createMetrics(): OperatorMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const total = new Counter({
    name: 'kafscale_operator_reconcile_total',
    help: 'Reconciles by kind and result (success, requeue, error).',
    labelNames: ['kind', 'result'],
    registers: [registry],
  });
  const errors = new Counter({
    name: 'kafscale_operator_reconcile_errors_total',
    help: 'Reconciles that failed, by kind.',
    labelNames: ['kind'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'kafscale_operator_reconcile_duration_seconds',
    help: 'Duration of reconciles, by kind.',
    labelNames: ['kind'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  // Per cluster with managed etcd backups; series go when the cluster or its backups go.
  const snapshotLabels = ['namespace', 'cluster'];
  const lastSnapshot = new Map<string, { labels: Record<string, string>; at: number }>();
  new Gauge({
    name: 'kafscale_operator_etcd_snapshot_age_seconds',
    help: 'Age of the newest complete etcd snapshot of the cluster, at scrape time.',
    labelNames: snapshotLabels,
    registers: [registry],
    collect() {
      this.reset();
      for (const { labels, at } of lastSnapshot.values()) {
        this.set(labels, Math.max(0, (Date.now() - at) / 1000));
      }
    },
  });
  const lastTime = new Gauge({
    name: 'kafscale_operator_etcd_snapshot_last_success_timestamp_seconds',
    help: 'Creation time of the newest complete etcd snapshot, in seconds since the epoch.',
    labelNames: snapshotLabels,
    registers: [registry],
  });
  const lastSuccess = new Gauge({
    name: 'kafscale_operator_etcd_snapshot_last_success',
    help: '1 if the newest finished etcd snapshot Job succeeded, 0 if it failed.',
    labelNames: snapshotLabels,
    registers: [registry],
  });
  const access = new Gauge({
    name: 'kafscale_operator_etcd_snapshot_access',
    help: '1 if the snapshot bucket is reachable with the cluster credentials (EtcdSnapshotAccess True), 0 if not.',
    labelNames: snapshotLabels,
    registers: [registry],
  });
  const snapshots: SnapshotSink = (namespace, name, seen) => {
    const labels = { namespace, cluster: name };
    const key = `${namespace}/${name}`;
    if (!seen?.lastSnapshotTime) {
      lastSnapshot.delete(key);
      lastTime.remove(labels);
    } else {
      lastSnapshot.set(key, { labels, at: seen.lastSnapshotTime.getTime() });
      lastTime.set(labels, seen.lastSnapshotTime.getTime() / 1000);
    }
    if (seen?.lastJobSucceeded === undefined) lastSuccess.remove(labels);
    else lastSuccess.set(labels, seen.lastJobSucceeded ? 1 : 0);
    if (!seen || seen.access.status === 'Unknown') access.remove(labels);
    else access.set(labels, seen.access.status === 'True' ? 1 : 0);
  };
  return {
    registry,
    snapshots,
    instrument: (controller, handler) => {
      const kind = KINDS[controller] ?? controller;
      return async (key) => {
        const end = duration.startTimer({ kind });
        try {
          const result = await handler(key);
          total.inc({ kind, result: result?.requeueAfterMs !== undefined ? 'requeue' : 'success' });
          return result;
        } catch (error) {
          total.inc({ kind, result: 'error' });
          errors.inc({ kind });
          throw error;
        } finally {
          end();
        }
      };
    },
  };
}

export interface RunningOperator {
  manager: Manager;
  server: Server;
  /** The port `/metrics`, `/healthz` and `/readyz` listen on. */
  port: number;
  registry: Registry;
  logger: winston.Logger;
  /** Stops reconciling (releasing the Lease) and closes the HTTP server. */
  stop(): Promise<void>;
}

export interface RunOptions {
  /** Where logs go; stderr by default (tests pass their own transport). */
  logTransport?: winston.transport;
  /** Lease timings (tests shorten them). */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
}

/** Starts the operator as its command line says: the Manager and the HTTP endpoints. */
export async function runOperator(args: string[], opts: RunOptions = {}): Promise<RunningOperator> {
  const flags = parseFlags(args);
  const listen = parseListenAddress(flags.metricsAddr);
  const logger = winston.createLogger({
    level: flags.logLevel,
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    defaultMeta: { component: 'kafscale-operator' },
    transports: [opts.logTransport ?? new winston.transports.Console({ stderrLevels: LOG_LEVELS })],
  });
  const kubeConfig = loadKubeConfig(flags.kubeconfig);
  const metrics = createMetrics();
  const identity =
    process.env.POD_NAME || `${hostname()}-${randomBytes(4).toString('hex')}-${process.pid}`;
  const manager = createOperator({
    kubeConfig,
    build: { brokerImage: flags.brokerImage, clusterDomain: flags.clusterDomain },
    namespaces: flags.watchNamespaces,
    leaderElection: flags.leaderElect
      ? {
          kubeConfig,
          namespace: flags.leaderElectionNamespace,
          name: flags.leaderElectionId,
          identity,
          leaseDurationMs: opts.leaseDurationMs,
          renewDeadlineMs: opts.renewDeadlineMs,
          retryPeriodMs: opts.retryPeriodMs,
          onError: (e) => logger.warn('leader election', { error: String(e) }),
        }
      : undefined,
    onLeadershipChange: (leading) =>
      logger.info(leading ? 'started leading' : 'stopped leading', { identity }),
    instrument: (controller, handler) => {
      const counted = metrics.instrument(controller, handler);
      return async (key) => {
        logger.debug('reconcile', { controller, key });
        return counted(key);
      };
    },
    onError: (source, e) =>
      logger.error(source, { error: e instanceof Error ? e.message : String(e) }),
    onSnapshot: metrics.snapshots,
  });

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const ready = manager.isReady();
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' });
      res.end(ready ? 'ok\n' : 'informers not synced\n');
    } else if (path === '/metrics') {
      metrics.registry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(body),
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  logger.info('operator starting', {
    metricsAddr: flags.metricsAddr,
    port,
    leaderElect: flags.leaderElect,
    watchNamespaces: flags.watchNamespaces,
    brokerImage: flags.brokerImage,
  });
  // Informers sync before start() resolves; /healthz and /readyz answer meanwhile.
  const started = manager.start();
  started.catch((e: unknown) => logger.error('manager', { error: String(e) }));

  let stopping: Promise<void> | undefined;
  return {
    manager,
    server,
    port,
    registry: metrics.registry,
    logger,
    stop: () =>
      (stopping ??= (async () => {
        logger.info('operator stopping');
        await started.catch(() => undefined);
        await manager.stop();
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        logger.info('operator stopped');
      })()),
  };
}
