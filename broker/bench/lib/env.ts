// The systems under test: a broker process on each backend, and a handle on the same object
// store for the harness's raw PUT/GET measurements.
//
//   s3:    etcd for metadata; s3rver behind the test suite's fault proxy (transparent unless a
//          scenario adds latency) for segments. The proxy also tells the harness the size of
//          every PUT and how many requests are in flight.
//   local: embedded metadata and the local directory object store, the single-node default.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import { LocalObjectStore } from '../../src/storage/local-object-store.js';
import type { ObjectStore } from '../../src/storage/object-store.js';
import { S3ObjectStore } from '../../src/storage/s3-object-store.js';
import { BrokerProcess } from '../../test/support/broker-process.js';
import { EtcdServer } from '../../test/support/etcd.js';
import { FaultProxy } from '../../test/support/fault-proxy.js';
import { scrape } from '../../test/support/metrics-scrape.js';
import { startS3rver, type S3rver } from '../../test/support/s3rver.js';
import { cpuSeconds } from './system.js';

export type BackendName = 's3' | 'local';

export interface StoreCounters {
  put: number;
  get: number;
  /** Seconds spent in PUT / GET requests, summed over requests (concurrent ones overlap). */
  putSeconds: number;
  getSeconds: number;
}

export interface Snapshot {
  at: number;
  cpu: number;
  store: StoreCounters;
  /** Keys of objects present, for the local store (the S3 proxy sees each PUT instead). */
  objects?: Map<string, number>;
  putLog: number;
  /** GETs of packed objects so far (s3 only). */
  packedGets?: number;
}

export interface WrittenObject {
  key: string;
  size: number;
}

/** Watches the requests the fault proxy receives without changing what it does. */
class ProxyObserver {
  readonly puts: WrittenObject[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** GETs of packed objects (segments of several partitions, not yet compacted). */
  packedGets = 0;

  constructor(proxy: FaultProxy, bucket: string) {
    // FaultProxy keeps its server private; a second 'request' listener only watches.
    const server = (proxy as unknown as { server: http.Server }).server;
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      res.once('close', () => this.inFlight--);
      const url = new URL(req.url ?? '/', 'http://proxy');
      const key = decodeURIComponent(url.pathname).replace(`/${bucket}/`, '');
      if (req.method === 'GET' && key.includes('/_packed/')) this.packedGets++;
      if (req.method !== 'PUT') return;
      this.puts.push({ key, size: Number(req.headers['content-length'] ?? 0) });
    });
  }
}

/** Node options for every broker the harness starts (`--cpu-prof` of `run.ts --profile`). */
export const brokerNodeArgs: string[] = [];

/** Stops a broker; gracefully when profiling, since node writes a CPU profile only on exit. */
async function stopBroker(broker: BrokerProcess): Promise<void> {
  if (brokerNodeArgs.length > 0) await broker.stop();
  await broker.destroy();
}

export class Backend {
  readonly admin: () => Kafka;
  private constructor(
    readonly name: BackendName,
    readonly broker: BrokerProcess,
    /** The same store the broker writes to, for raw measurements (through the proxy for s3). */
    readonly store: ObjectStore,
    /** Where raw PUTs go: a scratch prefix (s3) or a scratch directory on the same disk (local). */
    readonly scratch: ObjectStore,
    readonly proxy: FaultProxy | undefined,
    private readonly observer: ProxyObserver | undefined,
    private readonly cleanup: () => Promise<void>,
  ) {
    this.admin = () =>
      new Kafka({
        clientId: 'kafscale-bench',
        brokers: [broker.bootstrap],
        logLevel: logLevel.NOTHING,
      });
  }

  static async start(name: BackendName, env: Record<string, string> = {}): Promise<Backend> {
    const nodeArgs = brokerNodeArgs;
    if (name === 'local') {
      const broker = await BrokerProcess.start({ env, nodeArgs, compiled: true });
      const scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafscale-bench-raw-'));
      return new Backend(
        name,
        broker,
        new LocalObjectStore(path.join(broker.dataDir, 'objects')),
        new LocalObjectStore(scratchDir),
        undefined,
        undefined,
        async () => {
          await stopBroker(broker);
          fs.rmSync(scratchDir, { recursive: true, force: true });
        },
      );
    }
    const [etcd, s3]: [EtcdServer, S3rver] = await Promise.all([EtcdServer.start(), startS3rver()]);
    const proxy = await FaultProxy.start(s3.endpoint);
    const observer = new ProxyObserver(proxy, s3.bucket);
    const broker = await BrokerProcess.start({
      env: {
        KAFSCALE_ETCD_ENDPOINTS: etcd.endpoint,
        KAFSCALE_S3_BUCKET: s3.bucket,
        KAFSCALE_S3_ENDPOINT: proxy.endpoint,
        KAFSCALE_S3_PATH_STYLE: 'true',
        KAFSCALE_S3_REGION: s3.region,
        KAFSCALE_S3_ACCESS_KEY: s3.credentials.accessKeyId,
        KAFSCALE_S3_SECRET_KEY: s3.credentials.secretAccessKey,
        ...env,
      },
      nodeArgs,
      compiled: true,
    });
    const store = new S3ObjectStore(s3.storeConfig({ endpoint: proxy.endpoint }));
    return new Backend(name, broker, store, store, proxy, observer, async () => {
      await stopBroker(broker);
      await store.close();
      await proxy.close();
      await Promise.all([etcd.destroy(), s3.stop()]);
    });
  }

  get bootstrap(): string {
    return this.broker.bootstrap;
  }

  get pid(): number {
    const pid = this.broker.pid;
    if (pid === undefined) throw new Error('broker is not running');
    return pid;
  }

  /** Creates a topic and waits for its leaders. */
  async createTopic(prefix: string, partitions: number): Promise<string> {
    const topic = `${prefix}-${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;
    const admin = this.admin().admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [{ topic, numPartitions: partitions }],
        waitForLeaders: true,
        timeout: 60_000,
      });
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      const found = metadata.topics[0]?.partitions.length;
      if (found !== partitions)
        throw new Error(`${topic} has ${found} of ${partitions} partitions`);
    } catch (error) {
      const details = (error as { errors?: Error[] }).errors?.map((e) => e.message) ?? [];
      throw new Error(`creating ${topic}: ${(error as Error).message} ${details.join('; ')}`, {
        cause: error,
      });
    } finally {
      await admin.disconnect();
    }
    return topic;
  }

  async counters(): Promise<StoreCounters> {
    const metrics = await scrape(this.broker.metricsPort!);
    const count = (op: string) => metrics.value('kafscale_s3_requests_total', { op }) ?? 0;
    const ms = (op: string) => metrics.value('kafscale_s3_request_duration_ms_sum', { op }) ?? 0;
    return {
      put: count('put'),
      get: count('get'),
      putSeconds: ms('put') / 1000,
      getSeconds: ms('get') / 1000,
    };
  }

  /** Counters, CPU time and (local) the objects present, to diff against later. */
  async snapshot(withObjects = false): Promise<Snapshot> {
    const snapshot: Snapshot = {
      at: performance.now(),
      cpu: cpuSeconds(this.pid),
      store: await this.counters(),
      putLog: this.observer?.puts.length ?? 0,
      packedGets: this.observer?.packedGets,
    };
    if (withObjects && this.name === 'local') {
      snapshot.objects = new Map((await this.store.list('')).map((o) => [o.key, o.size]));
    }
    return snapshot;
  }

  /** Objects the broker wrote since the snapshot (taken withObjects for the local store). */
  async writtenSince(before: Snapshot): Promise<WrittenObject[]> {
    if (this.observer) {
      return this.observer.puts.slice(before.putLog).filter((o) => !o.key.startsWith(RAW_PREFIX));
    }
    const now = await this.store.list('');
    return now
      .filter((o) => !before.objects?.has(o.key))
      .map((o) => ({ key: o.key, size: o.size }));
  }

  /** Peak requests in flight at the proxy since the last reset (s3 only). */
  takeMaxInFlight(): number | undefined {
    if (!this.observer) return undefined;
    const max = this.observer.maxInFlight;
    this.observer.maxInFlight = this.observer.inFlight;
    return max;
  }

  async stop(): Promise<void> {
    await this.cleanup();
  }
}

/**
 * What kind of objects the broker wrote: per-partition segments and indexes (the documented
 * layout) or objects packing many partitions (`{namespace}/_packed/...`), so the results say
 * which write path the code under test took.
 */
export function objectKinds(objects: WrittenObject[]): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const { key } of objects) {
    const kind = key.includes('/_packed/')
      ? 'packed'
      : /\/segment-[^/]*\.kfs$/.test(key)
        ? 'segment'
        : key.endsWith('.index')
          ? 'index'
          : 'other';
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  return kinds;
}

/**
 * Compiles the broker (incremental `tsc -b`): the harness measures the compiled broker the image
 * runs, not the source through tsx, whose transpiler adds start-up CPU and about 40 MiB of RSS.
 */
export function buildBroker(): void {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  execFileSync(
    process.execPath,
    [path.join(root, 'node_modules/typescript/bin/tsc'), '-b', 'broker'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}

/** Key prefix of the harness's own raw PUTs. */
export const RAW_PREFIX = 'bench-raw/';
