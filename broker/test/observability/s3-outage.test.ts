// A real broker process in front of s3rver through a fault proxy: slow answers make the store
// Degraded, 503s and refused connections make it Unavailable, and healing brings it back, as
// /metrics and /readyz report it. While Unavailable produce is refused up front with a retriable
// error and cached data is still served; a librdkafka producer streaming through the outage
// loses nothing, and the log holds exactly what was acknowledged.
import { spawn, spawnSync } from 'node:child_process';
import { BrokerProcess } from '../support/broker-process.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';
import { WireClient } from '../support/wire-client.js';
import { probe, scrape } from '../support/metrics-scrape.js';
import { KCAT } from '../support/clients.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { decodeRecords } from '../../src/protocol/records/record-batch-decoder.js';
import type {
  FetchResponse,
  MetadataResponse,
  ProduceResponse,
} from '../../src/protocol/generated/index.js';

const PARTITIONS = 8;
const WINDOW_SEC = 4;
const KAFKA_STORAGE_ERROR = 56;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let s3: S3rver;
let proxy: FaultProxy;
let broker: BrokerProcess;
let client: WireClient;
const findings: string[] = [];

beforeAll(async () => {
  s3 = await startS3rver('health');
  proxy = await FaultProxy.start(s3.endpoint);
  broker = await BrokerProcess.start({
    env: {
      KAFSCALE_S3_BUCKET: s3.bucket,
      KAFSCALE_S3_ENDPOINT: proxy.endpoint,
      KAFSCALE_S3_PATH_STYLE: 'true',
      KAFSCALE_S3_ACCESS_KEY: s3.credentials.accessKeyId,
      KAFSCALE_S3_SECRET_KEY: s3.credentials.secretAccessKey,
      KAFSCALE_S3_HEALTH_WINDOW_SEC: String(WINDOW_SEC),
      KAFSCALE_AUTO_CREATE_PARTITIONS: String(PARTITIONS),
      KAFSCALE_LOG_LEVEL: 'info',
    },
  });
  client = await WireClient.connect(broker.port);
});

afterAll(async () => {
  if (findings.length) console.log(`S3 health findings:\n  ${findings.join('\n  ')}`);
  await client?.close();
  await broker?.destroy();
  await proxy?.close();
  await s3?.stop();
});

async function createTopic(topic: string): Promise<void> {
  const { body } = await client.request<MetadataResponse>(3, 4, {
    topics: [{ name: topic }],
    allowAutoTopicCreation: true,
  });
  expect(body.topics[0].errorCode).toBe(0);
}

/** Values acknowledged per partition, by offset. */
const acked: string[][] = Array.from({ length: PARTITIONS }, () => []);

/** One acks=all Produce with one record for every partition; acknowledged values are kept. */
/** One acks=all Produce v8 of one batch per given partition, values as given. */
async function produce(
  via: WireClient,
  topic: string,
  values: { index: number; value: Buffer | null }[],
): Promise<ProduceResponse> {
  const { body } = await via.request<ProduceResponse>(0, 8, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 60_000,
    topicData: [
      {
        name: topic,
        partitionData: values.map(({ index, value }) => ({
          index,
          records: buildRecordBatch([{ key: null, value }]),
        })),
      },
    ],
  });
  return body;
}

async function produceRound(tag: string): Promise<{ codes: number[]; ms: number }> {
  const started = Date.now();
  const body = await produce(
    client,
    'health',
    acked.map((_, index) => ({ index, value: Buffer.from(`${tag}-${index}`) })),
  );
  const codes: number[] = [];
  for (const p of body.responses[0].partitionResponses) {
    codes[p.index] = p.errorCode;
    if (p.errorCode === 0) {
      expect(p.baseOffset).toBe(acked[p.index].length);
      acked[p.index].push(`${tag}-${p.index}`);
    } else {
      expect(p.baseOffset).toBe(-1);
    }
  }
  return { codes, ms: Date.now() - started };
}

/** Every record of a partition, through Fetch v4; throws on a partition error. */
async function fetchPartition(partition: number): Promise<string[]> {
  const values: string[] = [];
  for (;;) {
    const { body } = await client.request<FetchResponse>(1, 4, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 8 << 20,
      isolationLevel: 0,
      topics: [
        {
          topic: 'health',
          partitions: [{ partition, fetchOffset: values.length, partitionMaxBytes: 8 << 20 }],
        },
      ],
    });
    const p = body.responses[0].partitions[0];
    if (p.errorCode !== 0) throw new Error(`fetch of partition ${partition}: error ${p.errorCode}`);
    const data = p.records ?? Buffer.alloc(0);
    const before = values.length;
    for (let at = 0; at + 12 <= data.length; at += 12 + data.readInt32BE(at + 8)) {
      for (const r of decodeRecords(data.subarray(at, at + 12 + data.readInt32BE(at + 8)))) {
        if (r.offset === values.length) values.push(r.value!.toString());
      }
    }
    if (values.length >= p.highWatermark || values.length === before) return values;
  }
}

async function healthState(): Promise<number | undefined> {
  return (await scrape(broker.metricsPort!)).value('kafscale_s3_health_state');
}

/** Runs `step` until the health state is `state`; resolves with the time it took. */
async function until(state: number, step: () => Promise<unknown>, limitMs = 30_000) {
  const started = Date.now();
  while ((await healthState()) !== state) {
    if (Date.now() - started > limitMs) throw new Error(`health state ${state} not reached`);
    await step();
  }
  return Date.now() - started;
}

test('health moves healthy -> degraded -> unavailable -> healthy; produce is refused while unavailable and nothing acknowledged is lost', async () => {
  await createTopic('health');
  await createTopic('stream');
  expect((await produceRound('before')).codes).toEqual(Array(PARTITIONS).fill(0));
  expect(await healthState()).toBe(0);
  expect((await probe(broker.metricsPort!, '/readyz')).status).toBe(200);

  // -- Degraded: every request answered, slowly. Produce is still accepted. The health window
  // judges latency only once it holds enough requests (20), and one round of produce makes one
  // packed upload: producers on connections of their own, each at its own pace, keep uploads
  // going in separate flush windows meanwhile.
  proxy.latencyMs = 800;
  await createTopic('load');
  const load = await Promise.all(Array.from({ length: 6 }, () => WireClient.connect(broker.port)));
  let loading = true;
  const loaders = load.map(async (c, i) => {
    await sleep(i * 130);
    while (loading) await produce(c, 'load', [{ index: i % PARTITIONS, value: null }]);
  });
  const degradedMs = await until(1, () => produceRound('slow'));
  loading = false;
  await Promise.all(loaders);
  await Promise.all(load.map((c) => c.close()));
  const slow = await produceRound('slow-accepted');
  expect(slow.codes).toEqual(Array(PARTITIONS).fill(0));
  let metrics = await scrape(broker.metricsPort!);
  expect(metrics.value('kafscale_produce_degraded_total')).toBeGreaterThanOrEqual(PARTITIONS);
  expect(metrics.value('kafscale_s3_latency_ms_avg')).toBeGreaterThanOrEqual(500);
  expect((await probe(broker.metricsPort!, '/readyz')).status).toBe(200);

  // -- Unavailable: every request fails. A librdkafka producer starts streaming into it.
  proxy.latencyMs = 0;
  proxy.failRate = 1;
  const outageStarted = Date.now();
  const lines = Array.from({ length: 300 }, (_, i) => `stream-${i}`);
  const kcat = spawn(
    KCAT,
    ['-P', '-b', broker.bootstrap, '-t', 'stream', '-X', 'enable.idempotence=true'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let kcatErr = '';
  kcat.stderr.on('data', (chunk: Buffer) => (kcatErr += chunk.toString()));
  const kcatExit = new Promise<number | null>((resolve) => kcat.once('exit', resolve));
  kcat.stdin.end(lines.join('\n') + '\n');

  const failing = await produceRound('during-503');
  expect(failing.codes).toEqual(Array(PARTITIONS).fill(KAFKA_STORAGE_ERROR));
  const unavailableMs = await until(2, () => produceRound('during-503'));
  const detectedMs = Date.now() - outageStarted;

  // Refused up front: no upload is attempted, so the answer does not wait for S3's retries.
  const refused = await produceRound('refused');
  expect(refused.codes).toEqual(Array(PARTITIONS).fill(KAFKA_STORAGE_ERROR));
  expect(refused.ms).toBeLessThan(5_000);
  metrics = await scrape(broker.metricsPort!);
  expect(
    metrics.value('kafscale_produce_refused_total', { reason: 's3_unavailable' }),
  ).toBeGreaterThanOrEqual(PARTITIONS);
  expect(metrics.value('kafscale_s3_error_rate')).toBeGreaterThan(0.05);
  // Failed attempts are counted: at least one per failed round (with packing, one upload and
  // its retries serve every partition of a flush).
  expect(metrics.value('kafscale_s3_requests_total', { outcome: 'error' })).toBeGreaterThanOrEqual(
    2,
  );
  const ready = await probe(broker.metricsPort!, '/readyz');
  expect(ready.status).toBe(503);
  expect(JSON.parse(ready.body).reasons).toEqual(['object storage unavailable']);
  expect((await probe(broker.metricsPort!, '/healthz')).status).toBe(200);

  // Committed data is still served from the cache.
  for (let p = 0; p < PARTITIONS; p++) expect(await fetchPartition(p)).toEqual(acked[p]);

  // Refused connections instead of 503s: the probes keep the state Unavailable past the window.
  await proxy.refuse();
  await sleep(WINDOW_SEC * 1000 + 500);
  expect(await healthState()).toBe(2);
  expect((await produceRound('refused-conn')).codes).toEqual(
    Array(PARTITIONS).fill(KAFKA_STORAGE_ERROR),
  );

  // -- Recovery: nothing but the health probes and clients' retries bring it back.
  await proxy.accept();
  proxy.heal();
  const healedAt = Date.now();
  const recoveredMs = await until(0, () => sleep(100));
  const firstOk = await produceRound('after');
  expect(firstOk.codes).toEqual(Array(PARTITIONS).fill(0));
  const produceResumedMs = Date.now() - healedAt;
  const readyAfter = await probe(broker.metricsPort!, '/readyz');
  if (readyAfter.status !== 200) console.log(readyAfter.body, broker.output.slice(-4000));
  expect(readyAfter.status).toBe(200);

  // The librdkafka stream retried through the outage: every line delivered, exactly once.
  let kcatTimer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([
    kcatExit,
    new Promise((resolve) => (kcatTimer = setTimeout(() => resolve('timeout'), 60_000))),
  ]);
  clearTimeout(kcatTimer);
  expect({ exit, kcatErr: kcatErr.slice(-2000) }).toEqual({ exit: 0, kcatErr: '' });
  const consumed = spawnSync(
    KCAT,
    ['-C', '-b', broker.bootstrap, '-t', 'stream', '-e', '-q', '-f', '%s\n'],
    { encoding: 'utf8', timeout: 30_000 },
  )
    .stdout.split('\n')
    .filter(Boolean);
  expect([...consumed].sort()).toEqual([...lines].sort());

  // The log holds exactly the acknowledged records, at their acknowledged offsets.
  for (let p = 0; p < PARTITIONS; p++) expect(await fetchPartition(p)).toEqual(acked[p]);

  findings.push(
    `window ${WINDOW_SEC} s: degraded after ${degradedMs} ms of 800 ms latency; ` +
      `unavailable ${detectedMs} ms after all requests began failing ` +
      `(${unavailableMs} ms after the first produce failed); refused produce answered in ` +
      `${refused.ms} ms; healthy ${recoveredMs} ms after healing, produce acknowledged again ` +
      `${produceResumedMs} ms after healing; kcat stream of ${lines.length} records delivered ` +
      `exactly once; ${acked.reduce((n, a) => n + a.length, 0)} acknowledged records intact`,
  );
}, 110_000);
