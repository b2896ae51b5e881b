// etcd taken away from a running broker, for longer than its lease: group and admin requests
// are answered in bounded time with retriable errors (never left hanging), /readyz says why the
// broker is not ready and the metadata error counter moves; once etcd is back the broker serves
// groups, admin requests and produce again by itself. (Produce with etcd down, and etcd blips
// during a commit, are covered by integration/durability.test.ts.)
import { BrokerProcess } from '../support/broker-process.js';
import { EtcdServer } from '../support/etcd.js';
import { WireClient } from '../support/wire-client.js';
import { probe, scrape } from '../support/metrics-scrape.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import { errorName } from '../../src/observability/metrics.js';

const LEASE_TTL_SEC = 3;
/** Codes a Kafka client retries for these requests (NONE: answered from memory). */
const RETRIABLE: number[] = [
  ErrorCode.NONE,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.COORDINATOR_NOT_AVAILABLE,
  ErrorCode.COORDINATOR_LOAD_IN_PROGRESS,
  ErrorCode.NOT_COORDINATOR,
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.REBALANCE_IN_PROGRESS,
];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let etcd: EtcdServer;
let broker: BrokerProcess;
const findings: string[] = [];

beforeAll(async () => {
  etcd = await EtcdServer.start();
  broker = await BrokerProcess.start({
    env: {
      KAFSCALE_ETCD_ENDPOINTS: etcd.endpoint,
      KAFSCALE_LEASE_TTL_SEC: String(LEASE_TTL_SEC),
      KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
      KAFSCALE_GROUP_MIN_SESSION_TIMEOUT_MS: '1000',
    },
  });
});

afterAll(async () => {
  if (findings.length) console.log(`etcd outage findings:\n  ${findings.join('\n  ')}`);
  await broker?.destroy();
  await etcd?.destroy();
});

/** Every error code anywhere in a decoded response. */
function errorCodes(body: unknown, out: number[] = []): number[] {
  if (Array.isArray(body)) for (const item of body) errorCodes(item, out);
  else if (body && typeof body === 'object' && !Buffer.isBuffer(body)) {
    for (const [key, value] of Object.entries(body)) {
      if (key === 'errorCode' && typeof value === 'number') out.push(value);
      else errorCodes(value, out);
    }
  }
  return out;
}

interface Call {
  name: string;
  apiKey: number;
  version: number;
  body: (tag: string) => unknown;
}

const CALLS: Call[] = [
  { name: 'FindCoordinator', apiKey: 10, version: 2, body: () => ({ key: 'g', keyType: 0 }) },
  {
    name: 'JoinGroup',
    apiKey: 11,
    version: 3,
    body: () => ({
      groupId: 'g',
      sessionTimeoutMs: 6000,
      rebalanceTimeoutMs: 6000,
      memberId: '',
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: Buffer.alloc(0) }],
    }),
  },
  {
    name: 'OffsetCommit',
    apiKey: 8,
    version: 2,
    body: () => ({
      groupId: 'standalone',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      retentionTimeMs: -1,
      topics: [{ name: 'created-base', partitions: [{ partitionIndex: 0, committedOffset: 1 }] }],
    }),
  },
  {
    name: 'OffsetFetch',
    apiKey: 9,
    version: 3,
    body: () => ({
      groupId: 'standalone',
      topics: [{ name: 'created-base', partitionIndexes: [0] }],
    }),
  },
  {
    name: 'CreateTopics',
    apiKey: 19,
    version: 4,
    body: (tag) => ({
      topics: [
        {
          name: `created-${tag}`,
          numPartitions: 1,
          replicationFactor: 1,
          assignments: [],
          configs: [],
        },
      ],
      timeoutMs: 10_000,
      validateOnly: false,
    }),
  },
  {
    name: 'InitProducerId',
    apiKey: 22,
    version: 1,
    body: () => ({ transactionalId: null, transactionTimeoutMs: 60_000 }),
  },
];

/** Sends a request on its own connection; rejects if no answer comes within limitMs. */
async function send(call: Call, tag: string, limitMs = 40_000) {
  const client = await WireClient.connect(broker.port);
  const started = Date.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const { body } = await Promise.race([
      client.request(call.apiKey, call.version, call.body(tag)),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`${call.name}: no answer in ${limitMs} ms`)),
          limitMs,
        );
      }),
    ]);
    return { codes: errorCodes(body), ms: Date.now() - started };
  } finally {
    clearTimeout(timer);
    await client.close();
  }
}

async function produce(topic: string): Promise<number> {
  const client = await WireClient.connect(broker.port);
  try {
    const { body } = await client.request<{
      responses: { partitionResponses: { errorCode: number }[] }[];
    }>(0, 8, {
      transactionalId: null,
      acks: -1,
      timeoutMs: 30_000,
      topicData: [
        {
          name: topic,
          partitionData: [
            { index: 0, records: buildRecordBatch([{ key: null, value: Buffer.from('v') }]) },
          ],
        },
      ],
    });
    return body.responses[0].partitionResponses[0].errorCode;
  } finally {
    await client.close();
  }
}

test('group and admin requests answer retriable errors in bounded time while etcd is down; the broker recovers by itself', async () => {
  const createBase = CALLS.find((c) => c.name === 'CreateTopics')!;
  expect((await send(createBase, 'base')).codes).toEqual([0]);
  for (const call of CALLS) {
    const { codes } = await send(call, 'before');
    expect({ call: call.name, codes: codes.filter((c) => c !== 0) }).toEqual({
      call: call.name,
      codes: [],
    });
  }
  expect(await produce('created-base')).toBe(0);
  expect((await probe(broker.metricsPort!, '/readyz')).status).toBe(200);
  const errorsBefore =
    (await scrape(broker.metricsPort!)).value('kafscale_metadata_errors_total') ?? 0;

  await etcd.stop();
  const stoppedAt = Date.now();
  const answers = await Promise.all(CALLS.map((call) => send(call, 'during')));
  const during: string[] = [];
  const notRetriable: string[] = [];
  CALLS.forEach((call, i) => {
    const { codes, ms } = answers[i];
    during.push(`${call.name} ${codes.map(errorName).join(',')} in ${ms} ms`);
    for (const code of codes) {
      // A pending join of a group the broker gives up (its lease expired) is answered
      // UNKNOWN_MEMBER_ID: clients reset their member id and join again, which is recoverable,
      // though NOT_COORDINATOR would send them to find the coordinator first (reported).
      if (call.name === 'JoinGroup' && code === ErrorCode.UNKNOWN_MEMBER_ID) continue;
      if (!RETRIABLE.includes(code)) notRetriable.push(`${call.name}: ${errorName(code)}`);
    }
    expect(ms).toBeLessThan(30_000);
  });
  expect(notRetriable).toEqual([]);
  const ready = await probe(broker.metricsPort!, '/readyz');
  expect(ready.status).toBe(503);
  expect(JSON.parse(ready.body).reasons.join()).toMatch(/metadata store unavailable/);
  const errorsDuring =
    (await scrape(broker.metricsPort!)).value('kafscale_metadata_errors_total') ?? 0;
  expect(errorsDuring).toBeGreaterThan(errorsBefore);

  // Past the lease TTL: the broker's registration expired with etcd's lease.
  const downFor = LEASE_TTL_SEC * 1000 + 2000 - (Date.now() - stoppedAt);
  if (downFor > 0) await sleep(downFor);
  const outageMs = Date.now() - stoppedAt;
  expect(broker.output).toMatch(/broker lease lost/);
  await etcd.restart();
  const restartedAt = Date.now();

  // Everything works again without touching the broker.
  const recovered: Record<string, number> = {};
  const deadline = restartedAt + 45_000;
  const pending = new Set(['JoinGroup', 'CreateTopics', 'Produce', 'readyz']);
  let last: Record<string, string> = {};
  while (pending.size > 0 && Date.now() < deadline) {
    for (const what of [...pending]) {
      let ok = false;
      if (what === 'readyz') {
        const r = await probe(broker.metricsPort!, '/readyz');
        ok = r.status === 200;
        last[what] = r.body.trim();
      } else if (what === 'Produce') {
        const code = await produce('created-base');
        ok = code === 0;
        last[what] = errorName(code);
      } else {
        const call = CALLS.find((c) => c.name === what)!;
        const { codes } = await send(call, `after-${Date.now()}`, 20_000);
        ok = codes.every((c) => c === 0);
        last[what] = codes.map(errorName).join(',');
      }
      if (ok) {
        recovered[what] = Date.now() - restartedAt;
        pending.delete(what);
      }
    }
    if (pending.size) await sleep(250);
  }
  findings.push(
    `etcd down ${outageMs} ms (lease TTL ${LEASE_TTL_SEC} s): ${during.join('; ')}; ` +
      `after restart: ${Object.entries(recovered)
        .map(([k, v]) => `${k} ok in ${v} ms`)
        .join(', ')}` +
      (pending.size
        ? `; never recovered: ${[...pending].map((p) => `${p} (${last[p]})`).join(', ')}`
        : ''),
  );
  expect({ notRecovered: [...pending], last: pending.size ? last : {} }).toEqual({
    notRecovered: [],
    last: {},
  });
  last = {};
}, 110_000);
