// Assembles metrics, object store health, produce admission and the HTTP endpoints around a
// broker, so broker.ts only has to hand over its parts.

import type { BrokerConfig } from '../config.js';
import type { BrokerContext } from '../broker-context.js';
import type { Logger } from '../logger.js';
import type { MetadataStore } from '../metadata/metadata-store.js';
import type { ObjectStore, ObjectStoreObserver } from '../storage/object-store.js';
import type { KafkaServer } from '../server/kafka-server.js';
import { BrokerMetrics } from './metrics.js';
import { S3HealthMonitor } from './s3-health.js';
import { InstrumentedMetadataStore } from './instrumented-metadata-store.js';
import { ProduceGate } from './produce-gate.js';
import { ObservabilityServer } from './http-server.js';
import { readinessCheck } from './readiness.js';

export interface ObservedParts {
  context: BrokerContext;
  server: KafkaServer;
  objects: ObjectStore;
  store: MetadataStore;
}

export class Observability {
  readonly metrics = new BrokerMetrics();
  readonly health: S3HealthMonitor;
  private http?: ObservabilityServer;

  constructor(
    private readonly config: BrokerConfig,
    private readonly logger: Logger,
  ) {
    const h = config.s3Health;
    this.health = new S3HealthMonitor({
      windowMs: h.windowSec * 1000,
      latencyWarnMs: h.latencyWarnMs,
      latencyCritMs: h.latencyCritMs,
      errorRateWarn: h.errorRateWarn,
      errorRateCrit: h.errorRateCrit,
      logger,
    });
  }

  /** Every object store request goes to both the health window and the request metrics. */
  readonly objectStoreObserver: ObjectStoreObserver = (op, durationMs, error) => {
    this.health.record(op, durationMs, error);
    this.metrics.observeObjectStore(op, durationMs, error);
  };

  instrument(store: MetadataStore): MetadataStore {
    return new InstrumentedMetadataStore(store, (op, durationMs, error) =>
      this.metrics.observeMetadata(op, durationMs, error),
    );
  }

  /**
   * Gates produce on object store health, starts health probing and the HTTP endpoints.
   * Resolves with the metrics port, or null when KAFSCALE_METRICS_ADDR is off.
   */
  async start(parts: ObservedParts): Promise<number | null> {
    const { context, server, objects, store } = parts;
    const { metrics, health } = this;
    context.produceGate = new ProduceGate({
      health,
      onRefused: () => metrics.produceRefusedUnavailable(),
      onDegraded: () => metrics.produceAcceptedDegraded(),
    });
    context.logs.onFlush = (bytes) => metrics.observeFlush(bytes);
    metrics.setSources({
      connections: () => server.connectionCount,
      partitionsLed: () => context.logs.openLogs().length,
      cache: () => context.logs.cache,
      consumerLag: () => context.groups.consumerLag(),
      s3Health: () => health.evaluate(),
      produceBuffer: () => {
        const b = context.logs.buffer;
        return b && { usedBytes: b.usedBytes, limitBytes: b.limitBytes, refused: b.refused };
      },
    });
    // A LIST of a prefix nothing lives under: the cheapest request that exercises the bucket.
    const probeKey = `${this.config.namespace}/_health/`;
    const windowMs = this.config.s3Health.windowSec * 1000;
    health.start(() => objects.list(probeKey), Math.max(100, Math.min(1000, windowMs / 10)));

    const addr = this.config.metrics;
    if (!addr) return null;
    const clusterIdKey = `${context.metadata.prefix}cluster-id`;
    this.http = new ObservabilityServer({
      host: addr.host,
      port: addr.port,
      logger: this.logger,
      metrics: () => metrics.exposition(),
      readiness: readinessCheck({
        isRegistered: () => context.membership.isLive,
        pingMetadata: () => store.get(clusterIdKey),
        s3State: () => health.state,
      }),
    });
    return this.http.listen();
  }

  async stop(): Promise<void> {
    this.health.stop();
    await this.http?.close();
  }
}
