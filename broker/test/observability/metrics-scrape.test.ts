// /metrics after real traffic (kcat produce and consume, a kafkajs consumer group committing
// part of a topic): every documented metric name is exported, with values that match the traffic.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import { BrokerProcess } from '../support/broker-process.js';
import { probe, scrape, type Scrape } from '../support/metrics-scrape.js';
import { KCAT } from '../support/clients.js';

const DOCS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../docs');
const RECORDS = 400;
const VALUE = 'x'.repeat(100);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let broker: BrokerProcess;
let consumer: Consumer | undefined;
let metrics: Scrape;
let idleConnections: number;

beforeAll(async () => {
  broker = await BrokerProcess.start({
    env: {
      KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '100',
      KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS: '1000',
      KAFSCALE_AUTO_CREATE_PARTITIONS: '2',
      // A cache too small for the topic: reads of older segments miss and go to storage.
      KAFSCALE_CACHE_BYTES: '32768',
    },
  });
  idleConnections = (await scrape(broker.metricsPort!)).value('kafscale_connections')!;

  // kcat: RECORDS records in several requests (one segment each), then a full consume.
  for (let chunk = 0; chunk < 4; chunk++) {
    const input = Array.from({ length: RECORDS / 4 }, (_, i) => `${chunk}-${i}-${VALUE}`);
    execFileSync(KCAT, ['-P', '-b', broker.bootstrap, '-t', 'traffic', '-p', '0'], {
      input: input.join('\n') + '\n',
    });
  }
  const consumed = execFileSync(
    KCAT,
    ['-C', '-b', broker.bootstrap, '-t', 'traffic', '-p', '0', '-e', '-q'],
    { encoding: 'utf8' },
  );
  expect(consumed.split('\n').filter(Boolean)).toHaveLength(RECORDS);

  // kafkajs group: consumes partition 0 and commits offset 100, leaving a known lag.
  const kafka = new Kafka({
    clientId: 'metrics-test',
    brokers: [broker.bootstrap],
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 },
  });
  consumer = kafka.consumer({ groupId: 'lagging', sessionTimeout: 6000 });
  await consumer.connect();
  await consumer.subscribe({ topic: 'traffic', fromBeginning: true });
  let seen = 0;
  await consumer.run({
    autoCommit: false,
    eachMessage: async () => {
      seen++;
    },
  });
  const deadline = Date.now() + 30_000;
  while (seen < RECORDS && Date.now() < deadline) await sleep(50);
  await consumer.commitOffsets([{ topic: 'traffic', partition: 0, offset: '100' }]);
  // A tail read: the newest segment was just read, so this one comes from memory.
  const tail = execFileSync(
    KCAT,
    ['-C', '-b', broker.bootstrap, '-t', 'traffic', '-p', '0', '-o', '-5', '-e', '-q'],
    { encoding: 'utf8' },
  );
  expect(tail.split('\n').filter(Boolean)).toHaveLength(5);
  metrics = await scrape(broker.metricsPort!);
}, 90_000);

afterAll(async () => {
  await consumer?.disconnect().catch(() => undefined);
  await broker?.destroy();
});

/** Every metric name docs/metrics.md documents, from its tables (`kafscale_...` cells). */
function documentedNames(): string[] {
  const doc = fs.readFileSync(path.join(DOCS, 'metrics.md'), 'utf8');
  return [...new Set([...doc.matchAll(/^\| `(kafscale_\w+)`/gm)].map((m) => m[1]))];
}

test('every documented kafscale_* metric is exported, and every exported one is documented', () => {
  const documented = documentedNames();
  expect(documented.length).toBeGreaterThan(25);
  const exported = [...metrics.names].filter((n) => n.startsWith('kafscale_'));
  expect([...exported].sort()).toEqual([...documented].sort());
  // Default process metrics are there too.
  for (const name of [
    'process_cpu_seconds_total',
    'process_resident_memory_bytes',
    'nodejs_eventloop_lag_seconds',
  ]) {
    expect(metrics.names).toContain(name);
  }
});

test('traffic shows up with plausible values', () => {
  const m = metrics;
  const recordBytes = RECORDS * VALUE.length;
  // Batches carry record framing on top of the values: more than the values, not wildly more.
  expect(m.value('kafscale_bytes_in_total')).toBeGreaterThan(recordBytes);
  expect(m.value('kafscale_bytes_in_total')).toBeLessThan(recordBytes * 1.5);
  expect(m.value('kafscale_bytes_out_total')).toBeGreaterThanOrEqual(
    m.value('kafscale_bytes_in_total')!,
  );
  expect(m.value('kafscale_requests_total', { api: 'Produce' })).toBeGreaterThanOrEqual(4);
  expect(m.value('kafscale_requests_total', { api: 'Fetch' })).toBeGreaterThanOrEqual(2);
  expect(m.value('kafscale_requests_total', { api: 'JoinGroup' })).toBeGreaterThanOrEqual(1);
  expect(m.value('kafscale_requests_total', { api: 'OffsetCommit' })).toBeGreaterThanOrEqual(1);
  expect(m.value('kafscale_produce_latency_ms_count')).toBe(
    m.value('kafscale_requests_total', { api: 'Produce' }),
  );
  expect(m.value('kafscale_fetch_latency_ms_count')).toBe(
    m.value('kafscale_requests_total', { api: 'Fetch' }),
  );
  expect(m.value('kafscale_produce_rps')).toBeGreaterThan(0);
  expect(m.value('kafscale_fetch_rps')).toBeGreaterThan(0);

  // Segments: one flush per kcat request at least, each holding part of the records.
  expect(m.value('kafscale_flush_bytes_count')).toBeGreaterThanOrEqual(4);
  expect(m.value('kafscale_flush_bytes_sum')).toBeGreaterThan(recordBytes);
  // Flushes reach the store as PUTs (packed: one object for the partitions flushed together),
  // besides the startup probe.
  const puts = m.value('kafscale_s3_requests_total', { op: 'put', outcome: 'success' })!;
  expect(puts).toBeGreaterThanOrEqual(2);
  expect(m.value('kafscale_s3_requests_total', { outcome: 'error' }) ?? 0).toBe(0);
  expect(m.value('kafscale_s3_health_state')).toBe(0);
  expect(m.value('kafscale_s3_error_rate')).toBe(0);
  expect(m.value('kafscale_s3_latency_ms_avg')).toBeGreaterThan(0);
  expect(m.value('kafscale_s3_latency_ms_avg')).toBeLessThan(500);

  // The 32 KiB cache holds two of the four segments: full reads miss, the tail read hits.
  expect(m.value('kafscale_cache_misses_total')).toBeGreaterThan(0);
  expect(m.value('kafscale_cache_hits_total')).toBeGreaterThan(0);
  const ratio =
    m.value('kafscale_cache_hits_total')! /
    (m.value('kafscale_cache_hits_total')! + m.value('kafscale_cache_misses_total')!);
  expect(m.value('kafscale_cache_hit_ratio')).toBeCloseTo(ratio, 5);
  expect(m.value('kafscale_cache_bytes')).toBeLessThanOrEqual(32768);

  // Metadata store (embedded here): commits are transactions.
  expect(m.value('kafscale_metadata_request_duration_ms_count', { op: 'txn' })).toBeGreaterThan(4);
  expect(m.value('kafscale_metadata_errors_total') ?? 0).toBe(0);

  expect(m.value('kafscale_partitions_led')).toBe(2);
  expect(m.value('kafscale_connections')).toBeGreaterThan(idleConnections);
  expect(m.value('kafscale_produce_buffer_bytes')).toBe(0);
  expect(m.value('kafscale_produce_buffer_limit_bytes')).toBe(256 * 1024 * 1024);
  expect(m.value('kafscale_produce_refused_total') ?? 0).toBe(0);
});

test('consumer lag per group partition, collected at scrape time', () => {
  expect(
    metrics.all('kafscale_consumer_group_lag', {
      group: 'lagging',
      topic: 'traffic',
      partition: '0',
    }),
  ).toEqual([expect.objectContaining({ value: RECORDS - 100 })]);
});

test('response error codes are counted by API and error name', async () => {
  // A fetch at an offset far past the end: OFFSET_OUT_OF_RANGE, then kcat exits on its error.
  try {
    execFileSync(
      KCAT,
      [
        '-C',
        '-b',
        broker.bootstrap,
        '-t',
        'traffic',
        '-p',
        '0',
        '-o',
        '99999',
        '-e',
        '-q',
        '-X',
        'auto.offset.reset=error',
      ],
      {
        stdio: 'pipe',
        timeout: 15_000,
      },
    );
  } catch {
    // kcat fails on the error; the broker counted it.
  }
  const after = await scrape(broker.metricsPort!);
  expect(
    after.value('kafscale_request_errors_total', { api: 'Fetch', error: 'OFFSET_OUT_OF_RANGE' }),
  ).toBeGreaterThanOrEqual(1);
});

test('/healthz and /readyz answer 200 on a healthy broker', async () => {
  expect(await probe(broker.metricsPort!, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
  const ready = await probe(broker.metricsPort!, '/readyz');
  expect(ready.status).toBe(200);
  expect(JSON.parse(ready.body)).toEqual({ status: 'ready' });
});

test('the Grafana dashboard is valid JSON and queries only exported metrics', () => {
  const dashboard = JSON.parse(
    fs.readFileSync(path.join(DOCS, 'grafana-dashboard.json'), 'utf8'),
  ) as {
    panels: { title: string; targets: { expr: string }[] }[];
  };
  expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
  const queried = new Set(
    dashboard.panels.flatMap((p) =>
      p.targets.flatMap((t) =>
        [...t.expr.matchAll(/\b((?:kafscale|process|nodejs)_\w+?)(?:_bucket|_count|_sum)?\{/g)].map(
          (m) => m[1],
        ),
      ),
    ),
  );
  for (const name of queried) expect(metrics.names).toContain(name);
  for (const name of [
    'kafscale_s3_health_state',
    'kafscale_consumer_group_lag',
    'kafscale_s3_requests_total',
  ]) {
    expect(queried).toContain(name);
  }
});
