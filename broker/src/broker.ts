import fs from 'node:fs';
import path from 'node:path';
import type { BrokerConfig } from './config.js';
import type { BrokerContext } from './broker-context.js';
import { ClusterMetadata } from './metadata/cluster-metadata.js';
import { EmbeddedMetadataStore } from './metadata/embedded-metadata-store.js';
import { EtcdMetadataStore } from './metadata/etcd-metadata-store.js';
import type { MetadataStore } from './metadata/metadata-store.js';
import { Membership } from './cluster/membership.js';
import { OrphanSweeper } from './cluster/orphan-sweeper.js';
import net from 'node:net';
import { createObjectStore } from './storage/create-object-store.js';
import { ReadReplicaObjectStore } from './storage/read-replica-object-store.js';
import type { ObjectStore, ObjectStoreObserver } from './storage/object-store.js';
import { Observability } from './observability/observability.js';
import { SegmentCache } from './storage/segment-cache.js';
import { LogManager } from './log/log-manager.js';
import { CoalescingObjectStore } from './storage/coalescing-object-store.js';
import { ProduceBuffer } from './log/produce-buffer.js';
import { GroupCoordinator } from './groups/group-coordinator.js';
import { HandlerRegistry } from './server/handler-registry.js';
import { KafkaServer } from './server/kafka-server.js';
import { createLogger, type Logger } from './logger.js';
import { ListenerCertificates } from './security/listener-tls.js';
import { SaslAuthenticator } from './security/sasl-session.js';
import { UserStore } from './metadata/cluster-metadata.js';
import { buildRegistry } from './handlers/registry.js';
import { randomUUID } from 'node:crypto';

/** One broker process: storage, metadata, partition logs and the Kafka listener. */
export class Broker {
  private constructor(
    readonly context: BrokerContext,
    private readonly store: MetadataStore,
    private readonly server: KafkaServer,
    readonly registry: HandlerRegistry,
    readonly port: number,
    private readonly sweeper: OrphanSweeper,
    private readonly observability: Observability,
    /** Port of /metrics, /healthz and /readyz; null when KAFSCALE_METRICS_ADDR is off. */
    readonly metricsPort: number | null,
    private readonly certificates?: ListenerCertificates,
  ) {}

  static async start(
    config: BrokerConfig,
    logger: Logger = createLogger(config.logLevel),
  ): Promise<Broker> {
    const observability = new Observability(config, logger);
    const objects = openObjectStore(config, observability.objectStoreObserver);
    const store = await withTimeout(
      openMetadataStore(config).then((raw) => observability.instrument(raw)),
      config.startupTimeoutSec,
      'metadata store',
    );
    try {
      await withTimeout(probeObjectStore(objects), config.startupTimeoutSec, 'object store');
      const listenPort =
        config.listenPort === 0 ? await pickFreePort(config.listenHost) : config.listenPort;
      // Bad certificate files stop the broker before it joins the cluster.
      const certificates = config.tls.enabled
        ? await ListenerCertificates.load(config.tls, logger)
        : undefined;
      const context = await createBrokerContext(config, store, objects, logger, listenPort);
      const registry = buildRegistry(context);
      const server = new KafkaServer({
        host: config.listenHost,
        port: listenPort,
        registry,
        logger,
        maxRequestBytes: config.maxRequestBytes,
        traceKafka: config.traceKafka,
        onRequest: observability.metrics.observeRequest,
        tls: certificates?.serverOptions(),
        sasl: config.sasl.enabled
          ? new SaslAuthenticator({
              mechanisms: config.sasl.mechanisms,
              users: new UserStore(context.metadata),
              logger,
            })
          : undefined,
      });
      const port = await server.listen();
      certificates?.watch((options) => server.setSecureContext(options));
      const metricsPort = await observability.start({ context, server, objects, store });
      context.logs.startRetention(config.retentionCheckIntervalMs);
      context.logs.startCompaction();
      const sweeper = new OrphanSweeper(context.metadata, objects, context.membership, logger, {
        namespace: config.namespace,
        graceMs: config.orphanGraceSec * 1000,
        intervalMs: config.orphanSweepIntervalSec * 1000,
      });
      sweeper.start();
      logger.info('broker started', {
        nodeId: context.self.nodeId,
        listen: `${config.listenHost}:${port}`,
        clusterId: context.clusterId,
      });
      return new Broker(
        context,
        store,
        server,
        registry,
        port,
        sweeper,
        observability,
        metricsPort,
        certificates,
      );
    } catch (err) {
      await observability.stop();
      await store.close().catch(() => undefined);
      await objects.close().catch(() => undefined);
      throw err;
    }
  }

  /** Graceful stop: answer in-flight requests, hand off partitions and groups, leave. */
  async stop(): Promise<void> {
    this.sweeper.stop();
    this.certificates?.stop();
    // Stop accepting, then let go of groups and partitions while in-flight requests drain:
    // waiting joins are answered and waiting produces see their data committed.
    const drained = this.server.close();
    await this.context.groups.shutdown();
    await this.context.logs.shutdown();
    await drained;
    await stopBrokerContext(this.context);
    await this.store.close();
    await this.observability.stop();
    this.context.logger.info('broker stopped', { nodeId: this.context.self.nodeId });
  }
}

/**
 * Joins the cluster and builds what handlers work with, on a reachable metadata store and
 * object store. Used by the broker process and by tests that call handlers directly.
 */
export async function createBrokerContext(
  config: BrokerConfig,
  store: MetadataStore,
  objects: ObjectStore,
  logger: Logger,
  listenPort: number,
): Promise<BrokerContext> {
  const metadata = await ClusterMetadata.open(store, config.clusterName);
  const clusterId = await ensureClusterId(store, metadata.prefix);
  const lease = await store.grantLease(config.leaseTtlSec);
  const membership = await Membership.join(
    metadata,
    lease,
    {
      nodeId: config.brokerId,
      host: config.advertisedHost,
      port: config.advertisedPort === 0 ? listenPort : config.advertisedPort,
      rack: config.rack,
    },
    logger,
    config.leaseTtlSec,
  );
  const logs = new LogManager({
    metadata,
    // Partitions' range reads of the same packed object in the same turn share one GET.
    objects: new CoalescingObjectStore(objects),
    buffer: new ProduceBuffer(config.produceBufferBytes),
    cache: new SegmentCache(config.cacheBytes),
    logger,
    membership,
    config: {
      namespace: config.namespace,
      segmentBytes: config.segmentBytes,
      flushIntervalMs: config.flushIntervalMs,
      indexIntervalBytes: 4096,
      readAheadSegments: config.readAheadSegments,
      rangeReadThresholdBytes: 8 * 1024 * 1024,
      packSegments: config.packSegments,
      compactBytes: config.compactBytes,
      compactMaxAgeMs: config.compactMaxAgeMs,
    },
  });
  const groups = new GroupCoordinator(metadata, logger, membership, {
    initialRebalanceDelayMs: config.groupInitialRebalanceDelayMs,
  });
  return {
    config,
    self: membership.self,
    clusterId,
    metadata,
    membership,
    logs,
    groups,
    objects,
    logger,
  };
}

/** Flushes and hands off partitions and groups, leaves the cluster, closes the object store. */
export async function stopBrokerContext(context: BrokerContext): Promise<void> {
  await context.logs.shutdown();
  await context.groups.shutdown();
  await context.membership.leave();
  await context.metadata.close();
  await context.objects.close();
}

function openObjectStore(config: BrokerConfig, onRequest?: ObjectStoreObserver): ObjectStore {
  if (config.s3.bucket) {
    const { read } = config.s3;
    const primary = openS3(
      config,
      config.s3.bucket,
      config.s3.region,
      config.s3.endpoint,
      onRequest,
    );
    if (!read.bucket) return primary;
    const replica = openS3(
      config,
      read.bucket,
      read.region ?? config.s3.region,
      read.endpoint ?? config.s3.endpoint,
      onRequest,
    );
    return new ReadReplicaObjectStore(primary, replica);
  }
  const rootDir = path.resolve(config.dataDir, 'objects');
  fs.mkdirSync(rootDir, { recursive: true });
  return createObjectStore({ kind: 'local', rootDir, onRequest });
}

function openS3(
  config: BrokerConfig,
  bucket: string,
  region: string,
  endpoint: string | null,
  onRequest?: ObjectStoreObserver,
): ObjectStore {
  return createObjectStore({
    kind: 's3',
    bucket,
    region,
    endpoint: endpoint ?? undefined,
    forcePathStyle: config.s3.pathStyle,
    credentials:
      config.s3.accessKeyId && config.s3.secretAccessKey
        ? {
            accessKeyId: config.s3.accessKeyId,
            secretAccessKey: config.s3.secretAccessKey,
            sessionToken: config.s3.sessionToken ?? undefined,
          }
        : undefined,
    sse: config.s3.sse ?? undefined,
    kmsKeyId: config.s3.kmsKeyArn ?? undefined,
    maxConcurrency: config.s3.maxConcurrency,
    onRequest,
  });
}

async function openMetadataStore(config: BrokerConfig): Promise<MetadataStore> {
  if (config.etcd.endpoints.length > 0) {
    const store = new EtcdMetadataStore({
      endpoints: config.etcd.endpoints,
      username: config.etcd.username ?? undefined,
      password: config.etcd.password ?? undefined,
    });
    // Retry until reachable: the startup timeout bounds this.
    for (;;) {
      try {
        await store.get('/kafscale/probe');
        return store;
      } catch {
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }
  const dir = path.resolve(config.dataDir, 'metadata');
  fs.mkdirSync(dir, { recursive: true });
  return EmbeddedMetadataStore.open(dir);
}

/** Startup gate: write, read back and delete a probe object. */
async function probeObjectStore(objects: ObjectStore): Promise<void> {
  const key = `_probe/${randomUUID()}`;
  const body = Buffer.from('kafscale-probe');
  for (;;) {
    try {
      await objects.put(key, body);
      const read = await objects.get(key);
      if (!read.equals(body)) throw new Error('probe object read back different bytes');
      await objects.delete([key]);
      return;
    } catch (err) {
      if (err instanceof Error && /read back/.test(err.message)) throw err;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

async function ensureClusterId(store: MetadataStore, prefix: string): Promise<string> {
  const key = `${prefix}cluster-id`;
  const id = randomUUID();
  await store.txn(
    [{ key, target: 'createRevision', op: '=', value: 0 }],
    [{ type: 'put', key, value: id }],
  );
  return (await store.get(key))!.value;
}

async function withTimeout<T>(promise: Promise<T>, seconds: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(`${what} not reachable within ${seconds}s (KAFSCALE_STARTUP_TIMEOUT_SEC)`),
        ),
      seconds * 1000,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A port the OS considers free now (for KAFSCALE_BROKER_PORT=0). */
async function pickFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const address = probe.address();
      probe.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
