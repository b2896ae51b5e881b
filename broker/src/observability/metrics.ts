// The broker's Prometheus metrics, one registry per broker. Every name here is documented in
// docs/metrics.md; users alert on them, so names and labels are a public interface. Event-driven
// metrics are recorded by the observe* methods; state that other parts already keep (connections,
// cache counters, consumer lag, S3 health) is read at scrape time from the sources.

import client from 'prom-client';
import type { ObjectStoreOp } from '../storage/object-store.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { requestOutcome, type S3HealthSnapshot } from './s3-health.js';
import { SlidingWindow } from './sliding-window.js';

export interface ConsumerLag {
  group: string;
  topic: string;
  partition: number;
  lag: number;
}

/** Where scrape-time metrics come from; absent sources are not exported. */
export interface MetricSources {
  connections?: () => number;
  partitionsLed?: () => number;
  cache?: () => { hits: number; misses: number; bytes: number };
  consumerLag?: () => Promise<ConsumerLag[]>;
  s3Health?: () => S3HealthSnapshot;
  produceBuffer?: () => { usedBytes: number; limitBytes: number; refused: number } | undefined;
}

export interface BrokerMetricsOptions {
  /** Window of the *_rps gauges. Default 60 s. */
  rateWindowMs?: number;
  /** Node.js process metrics (CPU, memory, event loop lag, GC). Default true. */
  processMetrics?: boolean;
  now?: () => number;
}

const LATENCY_BUCKETS_MS = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000];
const FLUSH_BUCKETS_BYTES = [
  1024,
  16 * 1024,
  64 * 1024,
  256 * 1024,
  1024 * 1024,
  4 * 1024 * 1024,
  16 * 1024 * 1024,
  64 * 1024 * 1024,
];

const ERROR_NAMES = new Map<number, string>(
  Object.entries(ErrorCode).map(([name, code]) => [code, name]),
);

export function errorName(code: number): string {
  return ERROR_NAMES.get(code) ?? String(code);
}

/** Error codes and records bytes anywhere in a decoded request or response. */
function scan(body: unknown, found: { errors: number[]; recordBytes: number }): void {
  if (Array.isArray(body)) {
    for (const item of body) scan(item, found);
    return;
  }
  if (body === null || typeof body !== 'object' || Buffer.isBuffer(body)) return;
  for (const [key, value] of Object.entries(body)) {
    if (key === 'errorCode' && typeof value === 'number') {
      if (value !== 0) found.errors.push(value);
    } else if (key === 'records' && Buffer.isBuffer(value)) {
      found.recordBytes += value.length;
    } else if (typeof value === 'object' && value !== null) {
      scan(value, found);
    }
  }
}

/** A counter that follows a running total kept elsewhere (e.g. the segment cache's hits). */
function followTotal(
  counter: { inc(value: number): void },
  read: () => number | undefined,
): () => void {
  let seen = 0;
  return () => {
    const total = read();
    if (total === undefined) return;
    if (total > seen) counter.inc(total - seen);
    seen = total;
  };
}

export class BrokerMetrics {
  readonly registry = new client.Registry();
  private sources: MetricSources = {};
  private readonly produceRate: SlidingWindow;
  private readonly fetchRate: SlidingWindow;

  private readonly s3Requests: client.Counter<'op' | 'outcome'>;
  private readonly s3Duration: client.Histogram<'op'>;
  private readonly requests: client.Counter<'api'>;
  private readonly requestErrors: client.Counter<'api' | 'error'>;
  private readonly produceLatency: client.Histogram;
  private readonly fetchLatency: client.Histogram;
  private readonly bytesIn: client.Counter;
  private readonly bytesOut: client.Counter;
  private readonly flushBytes: client.Histogram;
  private readonly metadataDuration: client.Histogram<'op'>;
  private readonly metadataErrors: client.Counter<'op'>;
  private readonly produceRefused: client.Counter<'reason'>;
  private readonly produceDegraded: client.Counter;

  constructor(options: BrokerMetricsOptions = {}) {
    const registers = [this.registry];
    const windowMs = options.rateWindowMs ?? 60_000;
    this.produceRate = new SlidingWindow(windowMs, options.now);
    this.fetchRate = new SlidingWindow(windowMs, options.now);
    if (options.processMetrics ?? true) client.collectDefaultMetrics({ register: this.registry });

    // -- object storage ----------------------------------------------------------------------
    this.s3Requests = new client.Counter({
      name: 'kafscale_s3_requests_total',
      help: 'Object store requests (every attempt, retries included) by operation and outcome.',
      labelNames: ['op', 'outcome'],
      registers,
    });
    this.s3Duration = new client.Histogram({
      name: 'kafscale_s3_request_duration_ms',
      help: 'Object store request latency in milliseconds, by operation.',
      labelNames: ['op'],
      buckets: LATENCY_BUCKETS_MS,
      registers,
    });
    const health = () => this.sources.s3Health?.();
    new client.Gauge({
      name: 'kafscale_s3_health_state',
      help: 'Object store health: 0 healthy, 1 degraded, 2 unavailable (produce refused).',
      registers,
      collect() {
        const s = health();
        if (s) this.set(s.state);
      },
    });
    new client.Gauge({
      name: 'kafscale_s3_latency_ms_avg',
      help: 'Average object store request latency over the health window, in milliseconds.',
      registers,
      collect() {
        const s = health();
        if (s) this.set(s.avgLatencyMs);
      },
    });
    new client.Gauge({
      name: 'kafscale_s3_error_rate',
      help: 'Share (0..1) of object store requests that failed over the health window.',
      registers,
      collect() {
        const s = health();
        if (s) this.set(s.errorRate);
      },
    });

    // -- requests ----------------------------------------------------------------------------
    this.requests = new client.Counter({
      name: 'kafscale_requests_total',
      help: 'Kafka requests answered, by API.',
      labelNames: ['api'],
      registers,
    });
    this.requestErrors = new client.Counter({
      name: 'kafscale_request_errors_total',
      help: 'Error codes in Kafka responses (one per failed partition, group or topic), by API.',
      labelNames: ['api', 'error'],
      registers,
    });
    this.produceLatency = new client.Histogram({
      name: 'kafscale_produce_latency_ms',
      help: 'Produce request latency in milliseconds (acks=1/-1: until durable and committed).',
      buckets: LATENCY_BUCKETS_MS,
      registers,
    });
    this.fetchLatency = new client.Histogram({
      name: 'kafscale_fetch_latency_ms',
      help: 'Fetch request latency in milliseconds, long-poll wait included.',
      buckets: LATENCY_BUCKETS_MS,
      registers,
    });
    const produceRate = this.produceRate;
    const fetchRate = this.fetchRate;
    new client.Gauge({
      name: 'kafscale_produce_rps',
      help: 'Produce requests per second over the last minute.',
      registers,
      collect() {
        this.set(produceRate.rate());
      },
    });
    new client.Gauge({
      name: 'kafscale_fetch_rps',
      help: 'Fetch requests per second over the last minute.',
      registers,
      collect() {
        this.set(fetchRate.rate());
      },
    });
    this.bytesIn = new client.Counter({
      name: 'kafscale_bytes_in_total',
      help: 'Record batch bytes received in Produce requests.',
      registers,
    });
    this.bytesOut = new client.Counter({
      name: 'kafscale_bytes_out_total',
      help: 'Record batch bytes sent in Fetch responses.',
      registers,
    });

    // -- produce path ------------------------------------------------------------------------
    this.flushBytes = new client.Histogram({
      name: 'kafscale_flush_bytes',
      help: 'Size of each committed segment in bytes.',
      buckets: FLUSH_BUCKETS_BYTES,
      registers,
    });
    this.produceRefused = new client.Counter({
      name: 'kafscale_produce_refused_total',
      help: 'Partition appends refused with a retriable error, by reason.',
      labelNames: ['reason'],
      registers,
    });
    const refusedBufferFull = followTotal(
      this.produceRefused.labels('buffer_full'),
      () => this.sources.produceBuffer?.()?.refused,
    );
    this.produceRefused.labels('s3_unavailable').inc(0);
    this.produceDegraded = new client.Counter({
      name: 'kafscale_produce_degraded_total',
      help: 'Partition appends accepted while object storage was degraded.',
      registers,
    });
    const buffer = () => this.sources.produceBuffer?.();
    new client.Gauge({
      name: 'kafscale_produce_buffer_bytes',
      help: 'Produced bytes held in memory, appended but not yet committed.',
      registers,
      collect() {
        refusedBufferFull();
        const b = buffer();
        if (b) this.set(b.usedBytes);
      },
    });
    new client.Gauge({
      name: 'kafscale_produce_buffer_limit_bytes',
      help: 'KAFSCALE_PRODUCE_BUFFER_BYTES: beyond it produce is refused.',
      registers,
      collect() {
        const b = buffer();
        if (b) this.set(b.limitBytes);
      },
    });

    // -- cache ---------------------------------------------------------------------------------
    const cache = () => this.sources.cache?.();
    const hits = new client.Counter({
      name: 'kafscale_cache_hits_total',
      help: 'Segment cache lookups answered from memory.',
      registers,
    });
    const misses = new client.Counter({
      name: 'kafscale_cache_misses_total',
      help: 'Segment cache lookups that went to object storage.',
      registers,
    });
    const followHits = followTotal(hits, () => cache()?.hits);
    const followMisses = followTotal(misses, () => cache()?.misses);
    new client.Gauge({
      name: 'kafscale_cache_hit_ratio',
      help: 'Share (0..1) of segment cache lookups answered from memory since start.',
      registers,
      collect() {
        followHits();
        followMisses();
        const c = cache();
        if (c) this.set(c.hits + c.misses > 0 ? c.hits / (c.hits + c.misses) : 0);
      },
    });
    new client.Gauge({
      name: 'kafscale_cache_bytes',
      help: 'Bytes held by the segment cache.',
      registers,
      collect() {
        const c = cache();
        if (c) this.set(c.bytes);
      },
    });

    // -- metadata store ----------------------------------------------------------------------
    this.metadataDuration = new client.Histogram({
      name: 'kafscale_metadata_request_duration_ms',
      help: 'Metadata store (etcd) call latency in milliseconds, by operation.',
      labelNames: ['op'],
      buckets: LATENCY_BUCKETS_MS,
      registers,
    });
    this.metadataErrors = new client.Counter({
      name: 'kafscale_metadata_errors_total',
      help: 'Metadata store (etcd) calls that failed, by operation.',
      labelNames: ['op'],
      registers,
    });

    // -- broker state --------------------------------------------------------------------------
    const sources = () => this.sources;
    new client.Gauge({
      name: 'kafscale_connections',
      help: 'Open client connections.',
      registers,
      collect() {
        const read = sources().connections;
        if (read) this.set(read());
      },
    });
    new client.Gauge({
      name: 'kafscale_partitions_led',
      help: 'Partitions this broker leads (open partition logs).',
      registers,
      collect() {
        const read = sources().partitionsLed;
        if (read) this.set(read());
      },
    });
    new client.Gauge({
      name: 'kafscale_consumer_group_lag',
      help: 'Records between the high watermark and the committed offset, per group partition.',
      labelNames: ['group', 'topic', 'partition'],
      registers,
      async collect() {
        const read = sources().consumerLag;
        if (!read) return;
        const lag = await read().catch(() => undefined);
        // Groups and partitions that went away must not linger with their last value.
        this.reset();
        for (const l of lag ?? []) {
          this.set({ group: l.group, topic: l.topic, partition: String(l.partition) }, l.lag);
        }
      },
    });
  }

  setSources(sources: MetricSources): void {
    this.sources = sources;
  }

  /** The object store observer (see ObjectStoreObserver). */
  readonly observeObjectStore = (op: ObjectStoreOp, durationMs: number, error?: unknown): void => {
    this.s3Requests.inc({ op, outcome: requestOutcome(error) });
    this.s3Duration.observe({ op }, durationMs);
  };

  /** One metadata store call; error is set when it failed. */
  observeMetadata(op: string, durationMs: number, error?: unknown): void {
    this.metadataDuration.observe({ op }, durationMs);
    if (error !== undefined) this.metadataErrors.inc({ op });
  }

  /** One answered Kafka request (response is null for acks=0 produce). */
  readonly observeRequest = (
    api: string,
    durationMs: number,
    request: unknown,
    response: unknown,
  ): void => {
    this.requests.inc({ api });
    const found = { errors: [] as number[], recordBytes: 0 };
    scan(response, found);
    for (const code of found.errors) this.requestErrors.inc({ api, error: errorName(code) });
    if (api === 'Produce') {
      const produced = { errors: [], recordBytes: 0 };
      scan(request, produced);
      this.bytesIn.inc(produced.recordBytes);
      this.produceLatency.observe(durationMs);
      this.produceRate.add(1);
    } else if (api === 'Fetch') {
      this.bytesOut.inc(found.recordBytes);
      this.fetchLatency.observe(durationMs);
      this.fetchRate.add(1);
    }
  };

  observeFlush(segmentBytes: number): void {
    this.flushBytes.observe(segmentBytes);
  }

  produceRefusedUnavailable(): void {
    this.produceRefused.inc({ reason: 's3_unavailable' });
  }

  produceAcceptedDegraded(): void {
    this.produceDegraded.inc();
  }

  /** The text exposition format, with its content type. */
  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
