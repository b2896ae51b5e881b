// Several broker processes sharing one etcd and one s3rver bucket: placement of partition leaders
// over the live brokers, KIP-951 leader hints, failover after a crash, scaling under load,
// fencing of a paused leader, and a consumer group whose coordinator dies. Figures (failover
// times, durability counts) are printed with console.log for the record.
import { Kafka, logLevel } from 'kafkajs';
import { BrokerProcess } from '../support/broker-process.js';
import { EtcdServer } from '../support/etcd.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { startS3rver, type S3rver } from '../support/s3rver.js';
import { WireClient } from '../support/wire-client.js';
import {
  compare,
  formatReport,
  readBack,
  verifyDurability,
  type DurabilityReport,
} from '../support/durability-verifier.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import type {
  CreateTopicsResponse,
  DescribeGroupsResponse,
  FindCoordinatorResponse,
  MetadataResponse,
  OffsetFetchResponse,
  ProduceResponse,
  ProduceResponsePartitionProduceResponse,
  ProduceResponseNodeEndpoint,
} from '../../src/protocol/generated/index.js';

const PRODUCE = 0;
const METADATA = 3;
const OFFSET_FETCH = 9;
const FIND_COORDINATOR = 10;
const DESCRIBE_GROUPS = 15;
const CREATE_TOPICS = 19;

const NONE = 0;
const NOT_LEADER_OR_FOLLOWER = 6;

const LEASE_TTL_SEC = 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Figures measured by the scenarios, printed together at the end. */
const figures: string[] = [];
const note = (line: string) => {
  figures.push(line);
  console.log(line);
};

let etcd: EtcdServer;
let s3: S3rver;

beforeAll(async () => {
  [etcd, s3] = await Promise.all([EtcdServer.start(), startS3rver('kafscale-cluster')]);
}, 60_000);

afterAll(async () => {
  if (figures.length) console.log(`cluster figures:\n  ${figures.join('\n  ')}`);
  await Promise.all([etcd?.destroy(), s3?.stop()]);
});

// -- a cluster of broker processes --------------------------------------------------------------

/** Broker processes of one cluster (own cluster name and object namespace), by broker id. */
class Cluster {
  readonly brokers = new Map<number, BrokerProcess>();

  constructor(
    readonly name: string,
    private readonly extraEnv: (id: number | null) => Record<string, string> = () => ({}),
  ) {}

  env(id: number | null): Record<string, string> {
    return {
      KAFSCALE_ETCD_ENDPOINTS: etcd.endpoint,
      KAFSCALE_S3_BUCKET: s3.bucket,
      KAFSCALE_S3_ENDPOINT: s3.endpoint,
      KAFSCALE_S3_REGION: s3.region,
      KAFSCALE_S3_PATH_STYLE: 'true',
      KAFSCALE_S3_ACCESS_KEY: s3.credentials.accessKeyId,
      KAFSCALE_S3_SECRET_KEY: s3.credentials.secretAccessKey,
      KAFSCALE_CLUSTER_NAME: this.name,
      KAFSCALE_S3_NAMESPACE: this.name,
      KAFSCALE_LEASE_TTL_SEC: String(LEASE_TTL_SEC),
      KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '100',
      // Several brokers on one host: each its own metrics port.
      KAFSCALE_METRICS_ADDR: '127.0.0.1:0',
      ...(id === null ? {} : { KAFSCALE_BROKER_ID: String(id) }),
      ...this.extraEnv(id),
    };
  }

  /** Starts brokers with the given ids (null: the broker claims the lowest free id). */
  async start(ids: (number | null)[]): Promise<BrokerProcess[]> {
    const started = await Promise.all(ids.map((id) => BrokerProcess.start({ env: this.env(id) })));
    for (const [i, broker] of started.entries()) {
      const id = ids[i] ?? Number(/KafScale broker (\d+) listening/.exec(broker.output)?.[1]);
      this.brokers.set(id, broker);
    }
    return started;
  }

  broker(id: number): BrokerProcess {
    const broker = this.brokers.get(id);
    if (!broker) throw new Error(`no broker ${id}`);
    return broker;
  }

  /** Every broker address, dead or alive (relaunched brokers keep their port). */
  bootstrap(ids = [...this.brokers.keys()]): string {
    return ids.map((id) => this.broker(id).bootstrap).join(',');
  }

  async destroy(): Promise<void> {
    await Promise.all(
      [...this.brokers.values()].map(async (b) => {
        if (b.pid) process.kill(b.pid, 'SIGCONT');
        await b.destroy();
      }),
    );
  }
}

// -- raw requests -------------------------------------------------------------------------------

async function request<T>(port: number, apiKey: number, version: number, body: unknown) {
  const client = await WireClient.connect(port);
  try {
    return (await client.request<T>(apiKey, version, body)).body;
  } finally {
    await client.close();
  }
}

function metadata(port: number, topics: string[] | null = null): Promise<MetadataResponse> {
  return request<MetadataResponse>(port, METADATA, 9, {
    topics: topics?.map((name) => ({ name })) ?? null,
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
}

async function createTopic(port: number, name: string, partitions: number): Promise<void> {
  const body = await request<CreateTopicsResponse>(port, CREATE_TOPICS, 5, {
    topics: [
      { name, numPartitions: partitions, replicationFactor: -1, assignments: [], configs: [] },
    ],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  expect(body.topics[0].errorCode).toBe(NONE);
}

/** Leader id per partition, as the broker on `port` sees it. */
async function leaders(port: number, topic: string): Promise<number[]> {
  const body = await metadata(port, [topic]);
  return [...body.topics[0].partitions]
    .sort((a, b) => a.partitionIndex - b.partitionIndex)
    .map((p) => p.leaderId);
}

/** Produces one record (acks=all) and returns the partition's answer and node endpoints. */
async function produceOne(
  port: number,
  topic: string,
  partition: number,
  value: string,
  version = 9,
): Promise<
  ProduceResponsePartitionProduceResponse & { nodeEndpoints: ProduceResponseNodeEndpoint[] }
> {
  const records = buildRecordBatch([{ key: null, value: Buffer.from(value) }]);
  const body = await request<ProduceResponse>(port, PRODUCE, version, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records }] }],
  });
  return { ...body.responses[0].partitionResponses[0], nodeEndpoints: body.nodeEndpoints ?? [] };
}

/**
 * Polls until the cluster seen through `via` places no partition on an excluded broker (and
 * every leader satisfies `accept`), and then a produce to every partition's leader succeeds.
 * Returns the ms until the metadata was right and until every partition was served.
 */
async function waitUntilServed(
  via: () => BrokerProcess,
  topic: string,
  options: { exclude?: number[]; accept?: (leaders: number[]) => boolean; timeoutMs?: number },
): Promise<{ metadataMs: number; servedMs: number }> {
  const started = Date.now();
  const deadline = started + (options.timeoutMs ?? 60_000);
  let metadataMs: number | undefined;
  let lastProblem = '';
  let probe = 0;
  while (Date.now() < deadline) {
    try {
      const body = await metadata(via().port, [topic]);
      const ports = new Map(body.brokers.map((b) => [b.nodeId, b.port]));
      const partitions = body.topics[0].partitions;
      const ids = partitions.map((p) => p.leaderId);
      if (
        ids.some((id) => id < 0 || options.exclude?.includes(id) || !ports.has(id)) ||
        (options.accept && !options.accept(ids))
      ) {
        lastProblem = `leaders ${ids.join(',')}`;
        metadataMs = undefined;
        await sleep(50);
        continue;
      }
      metadataMs ??= Date.now() - started;
      const answers = await Promise.all(
        partitions.map((p) =>
          produceOne(ports.get(p.leaderId)!, topic, p.partitionIndex, `probe-${probe++}`),
        ),
      );
      const failed = answers.filter((a) => a.errorCode !== NONE);
      if (failed.length === 0) return { metadataMs, servedMs: Date.now() - started };
      lastProblem = `produce errors ${failed.map((a) => `${a.index}:${a.errorCode}`).join(',')}`;
    } catch (err) {
      lastProblem = String(err);
    }
    await sleep(50);
  }
  throw new Error(`partitions of ${topic} not served in time: ${lastProblem}`);
}

function expectDurable(report: DurabilityReport, duplicatesAllowed = false): void {
  expect(report.fatal).toEqual([]);
  expect(report.lost).toBe(0);
  expect(report.offsetMismatches).toBe(0);
  expect(report.found).toBe(report.acked);
  expect(report.gaps).toBe(0);
  expect(report.conflicts).toBe(0);
  expect(report.ackConflicts).toBe(0);
  if (!duplicatesAllowed) expect(report.duplicated).toBe(0);
}

/** Retries an assertion until it passes or the time is up (then its last failure is thrown). */
async function eventually<T>(check: () => Promise<T>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }
}

/** A small deterministic PRNG (mulberry32), so a failing chaos run can be replayed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// -- scenarios ----------------------------------------------------------------------------------

describe('three brokers', () => {
  const cluster = new Cluster('three');
  const topic = 'spread';
  afterAll(() => cluster.destroy());

  test('Metadata lists three brokers and leaders spread over all of them', async () => {
    await cluster.start([null, null, null]);
    expect([...cluster.brokers.keys()].sort()).toEqual([0, 1, 2]);
    const b0 = cluster.broker(0);
    // Each broker learns the others through its watch.
    for (const b of cluster.brokers.values()) {
      await eventually(async () =>
        expect((await metadata(b.port)).brokers.map((x) => x.nodeId).sort()).toEqual([0, 1, 2]),
      );
    }
    const body = await metadata(b0.port);
    expect(body.brokers.map((b) => [b.nodeId, b.port]).sort()).toEqual(
      [0, 1, 2].map((id) => [id, cluster.broker(id).port]),
    );
    await createTopic(b0.port, topic, 12);
    const placed = await leaders(b0.port, topic);
    expect(new Set(placed)).toEqual(new Set([0, 1, 2]));
    // Every broker computes the same placement.
    for (const id of [1, 2]) expect(await leaders(cluster.broker(id).port, topic)).toEqual(placed);
    note(`placement of 12 partitions over brokers 0,1,2: ${placed.join(',')}`);
  }, 90_000);

  test('a Produce sent to a non-leader gets NOT_LEADER_OR_FOLLOWER with the leader hint', async () => {
    const placed = await leaders(cluster.broker(0).port, topic);
    for (const partition of [0, 1, 2, 3]) {
      const leader = placed[partition];
      const other = [0, 1, 2].find((id) => id !== leader)!;
      const v11 = await produceOne(cluster.broker(other).port, topic, partition, 'misdirected', 11);
      expect(v11.errorCode).toBe(NOT_LEADER_OR_FOLLOWER);
      expect(v11.baseOffset).toBe(-1);
      expect(v11.currentLeader?.leaderId).toBe(leader);
      expect(v11.nodeEndpoints).toEqual([
        expect.objectContaining({
          nodeId: leader,
          host: '127.0.0.1',
          port: cluster.broker(leader).port,
        }),
      ]);
      // Before v10 there is no hint, only the error.
      const v9 = await produceOne(cluster.broker(other).port, topic, partition, 'misdirected', 9);
      expect(v9.errorCode).toBe(NOT_LEADER_OR_FOLLOWER);
      // The leader itself accepts it.
      const ok = await produceOne(cluster.broker(leader).port, topic, partition, 'direct', 11);
      expect(ok.errorCode).toBe(NONE);
      expect(ok.currentLeader?.leaderId ?? -1).toBe(-1);
    }
    // Nothing misdirected was stored.
    const { log } = await readBack(cluster.bootstrap(), topic);
    const stored = [...log.values()].reduce((n, offsets) => n + offsets.size, 0);
    expect(stored).toBe(4);
  }, 60_000);

  test('SIGKILL of a broker: its partitions move to the others, acknowledged data stays', async () => {
    const killTopic = 'failover';
    await createTopic(cluster.broker(0).port, killTopic, 12);
    const placed = await leaders(cluster.broker(0).port, killTopic);
    const victim = 2;
    const survivors = [0, 1];
    expect(placed).toContain(victim);
    let timing: { metadataMs: number; servedMs: number } | undefined;
    const report = await verifyDurability({
      bootstrap: cluster.bootstrap(),
      readBootstrap: () => cluster.bootstrap(survivors),
      topic: killTopic,
      minimum: 2000,
      rate: 500,
      chaos: async (progress) => {
        await progress.waitForAcked(600, { total: true });
        await cluster.broker(victim).kill9();
        timing = await waitUntilServed(() => cluster.broker(0), killTopic, {
          exclude: [victim],
          timeoutMs: 30_000,
        });
        await progress.waitForAcked(300);
      },
    });
    note(
      `failover after SIGKILL (lease TTL ${LEASE_TTL_SEC}s): metadata without the dead broker ` +
        `after ${timing!.metadataMs} ms, every partition accepting writes after ${timing!.servedMs} ms`,
    );
    note(formatReport('kill -9 of 1 of 3 brokers', report));
    expect(await leaders(cluster.broker(1).port, killTopic)).not.toContain(victim);
    expectDurable(report);
    expect(report.acked).toBeGreaterThanOrEqual(2000);
  }, 120_000);
});

test('scale 1 -> 3 -> 1 under load loses nothing', async () => {
  const cluster = new Cluster('scale');
  try {
    await cluster.start([0]);
    const topic = 'scaling';
    await createTopic(cluster.broker(0).port, topic, 12);
    let up: { metadataMs: number; servedMs: number } | undefined;
    let down: { metadataMs: number; servedMs: number } | undefined;
    const report = await verifyDurability({
      bootstrap: cluster.bootstrap(),
      readBootstrap: () => cluster.bootstrap([0]),
      topic,
      minimum: 3000,
      rate: 500,
      chaos: async (progress) => {
        await progress.waitForAcked(500, { total: true });
        await cluster.start([1, 2]);
        up = await waitUntilServed(() => cluster.broker(0), topic, {
          accept: (ids) => [0, 1, 2].every((id) => ids.includes(id)),
        });
        await progress.waitForAcked(800);
        await Promise.all([cluster.broker(1).stop(), cluster.broker(2).stop()]);
        down = await waitUntilServed(() => cluster.broker(0), topic, { exclude: [1, 2] });
        await progress.waitForAcked(500);
      },
    });
    note(
      `scale-up 1 -> 3: leaders spread over 3 brokers ${up!.metadataMs} ms after the new ` +
        `brokers listened, every partition accepting writes after ${up!.servedMs} ms`,
    );
    note(
      `scale-down 3 -> 1 (SIGTERM): every partition back on broker 0 and accepting writes ` +
        `${down!.servedMs} ms after the brokers exited`,
    );
    note(formatReport('scale 1 -> 3 -> 1, idempotent', report));
    expectDurable(report);
    expect(report.acked).toBeGreaterThanOrEqual(3000);
    expect(report.failed).toBe(0);
  } finally {
    await cluster.destroy();
  }
}, 150_000);

test('random SIGKILLs and restarts of brokers during production lose nothing', async () => {
  const cluster = new Cluster('chaos');
  const seed = Number(process.env['KAFSCALE_CHAOS_SEED'] ?? Date.now() % 100_000);
  const rnd = random(seed);
  const events: string[] = [];
  try {
    await cluster.start([0, 1, 2]);
    const topic = 'chaos';
    await createTopic(cluster.broker(0).port, topic, 6);
    const report = await verifyDurability({
      bootstrap: cluster.bootstrap(),
      topic,
      minimum: 4000,
      rate: 400,
      chaos: async (progress) => {
        await progress.waitForAcked(400, { total: true });
        for (let round = 0; round < 4; round++) {
          const victim = Math.floor(rnd() * 3);
          await cluster.broker(victim).kill9();
          const downMs = Math.round(300 + rnd() * 2500);
          events.push(`kill ${victim} for ${downMs} ms at ${progress.acked} acked`);
          await sleep(downMs);
          await cluster.broker(victim).relaunch();
          await progress.waitForAcked(300, { timeoutMs: 60_000 });
        }
      },
    });
    note(`chaos (seed ${seed}): ${events.join('; ')}`);
    note(formatReport('random kill -9 and relaunch, idempotent', report));
    expectDurable(report);
    expect(report.acked).toBeGreaterThanOrEqual(3000);
  } finally {
    await cluster.destroy();
  }
}, 180_000);

test('a paused leader is fenced: its late commit is refused and nothing committed is overwritten', async () => {
  // Each broker reaches the bucket through its own proxy, so the paused leader's segment upload
  // can be held until after it resumes: its commit then comes late, deterministically.
  const proxies = await Promise.all([0, 1, 2].map(() => FaultProxy.start(s3.endpoint)));
  const cluster = new Cluster('fence', (id) => ({ KAFSCALE_S3_ENDPOINT: proxies[id!].endpoint }));
  const topic = 'fenced';
  const partition = 0;
  let stale: Promise<Awaited<ReturnType<typeof produceOne>>> | undefined;
  let oldLeader = -1;
  let newLeader = -1;
  let pausedMs = 0;
  let zombieBrokers: number[] = [];
  try {
    await cluster.start([0, 1, 2]);
    await createTopic(cluster.broker(0).port, topic, 3);
    oldLeader = (await leaders(cluster.broker(0).port, topic))[partition];
    const other = cluster.broker([0, 1, 2].find((id) => id !== oldLeader)!);
    const report = await verifyDurability({
      bootstrap: cluster.bootstrap(),
      topic,
      minimum: 1500,
      rate: 300,
      chaos: async (progress) => {
        await progress.waitForAcked(300, { total: true });
        const paused = cluster.broker(oldLeader);
        // Hold the old leader's uploads for 8 s, write to it, and freeze it while its flush is
        // in flight (the producer's own requests to it are in flight too).
        proxies[oldLeader].latencyMs = 8000;
        stale = produceOne(paused.port, topic, partition, 'stale-write', 11);
        await eventually(async () => expect(proxies[oldLeader].stats.inFlight).toBeGreaterThan(0));
        await sleep(100);
        process.kill(paused.pid!, 'SIGSTOP');
        const stoppedAt = Date.now();
        // Its lease expires; another broker takes the partition and accepts writes.
        await waitUntilServed(() => other, topic, { exclude: [oldLeader], timeoutMs: 30_000 });
        newLeader = (await leaders(other.port, topic))[partition];
        await progress.waitForAcked(200);
        await sleep(Math.max(0, (LEASE_TTL_SEC + 1) * 1000 - (Date.now() - stoppedAt)));
        pausedMs = Date.now() - stoppedAt;
        process.kill(paused.pid!, 'SIGCONT');
        const answer = await stale;
        // The late commit is refused with a retriable error naming a live leader: the new one,
        // or the resumed broker itself once it has registered again and placement gave the
        // partition back to it (with a new epoch, which fences the paused incarnation anyway).
        expect(answer.errorCode).toBe(NOT_LEADER_OR_FOLLOWER);
        expect(answer.baseOffset).toBe(-1);
        if (answer.currentLeader?.leaderId !== undefined && answer.currentLeader.leaderId >= 0) {
          expect([newLeader, oldLeader]).toContain(answer.currentLeader.leaderId);
        }
        // The writer retries at whichever broker leads now and succeeds.
        proxies[oldLeader].heal();
        await eventually(async () => {
          const leader = (await leaders(other.port, topic))[partition];
          const retried = await produceOne(
            cluster.broker(leader).port,
            topic,
            partition,
            'stale-write-retried',
            11,
          );
          expect(retried.errorCode).toBe(NONE);
        });
        // The resumed broker registers again under a new lease by itself.
        await eventually(async () => {
          const view = await metadata(paused.port, [topic]);
          expect(view.brokers.map((b) => b.nodeId).sort()).toEqual([0, 1, 2]);
        });
        zombieBrokers = (await metadata(paused.port, [topic])).brokers.map((b) => b.nodeId).sort();
        await progress.waitForAcked(300);
      },
    });
    note(
      `fencing: leader ${oldLeader} of ${topic}-${partition} paused ${pausedMs} ms, broker ` +
        `${newLeader} took over; the paused leader's late commit was refused; after SIGCONT it ` +
        `registered again and its Metadata lists brokers [${zombieBrokers.join(',')}]`,
    );
    note(formatReport('SIGSTOP / SIGCONT of a leader, idempotent', report));
    expect(newLeader).not.toBe(oldLeader);
    expectDurable(report);
    const values = report.foreign.map((r) => r.value);
    expect(values).not.toContain('stale-write');
    expect(values.filter((v) => v === 'stale-write-retried')).toHaveLength(1);
  } finally {
    await cluster.destroy();
    await Promise.all(proxies.map((p) => p.close()));
  }
}, 120_000);

async function findCoordinator(port: number, groupId: string): Promise<number> {
  const body = await request<FindCoordinatorResponse>(port, FIND_COORDINATOR, 3, {
    key: groupId,
    keyType: 0,
  });
  expect(body.errorCode).toBe(NONE);
  return body.nodeId!;
}

/** Committed offsets of partitions 0..n-1 (-1: none), asked of the group's coordinator. */
async function committedOffsets(
  port: number,
  groupId: string,
  topic: string,
  partitions: number,
): Promise<number[]> {
  const body = await request<OffsetFetchResponse>(port, OFFSET_FETCH, 5, {
    groupId,
    topics: [{ name: topic, partitionIndexes: Array.from({ length: partitions }, (_, p) => p) }],
  });
  if (body.errorCode) throw new Error(`OffsetFetch error ${body.errorCode}`);
  const out = Array.from({ length: partitions }, () => -1);
  for (const p of body.topics![0].partitions!) {
    if (p.errorCode) throw new Error(`OffsetFetch partition error ${p.errorCode}`);
    out[p.partitionIndex!] = p.committedOffset!;
  }
  return out;
}

test('a consumer group moves to a new coordinator when its coordinator is killed', async () => {
  const cluster = new Cluster('groups');
  const topic = 'grouped';
  const groupId = 'cluster-group';
  const partitions = 6;
  const total = 1800;
  const consumers: ReturnType<Kafka['consumer']>[] = [];
  let monitoring = true;
  let monitor: Promise<void> = Promise.resolve();
  try {
    await cluster.start([0, 1, 2]);
    await createTopic(cluster.broker(0).port, topic, partitions);
    const kafka = new Kafka({
      clientId: 'cluster-test',
      brokers: cluster.bootstrap().split(','),
      logLevel: logLevel.NOTHING,
      retry: { initialRetryTime: 100, maxRetryTime: 1000, retries: 30 },
    });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    for (let from = 0; from < total; from += 300) {
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: 300 }, (_, i) => ({
          partition: (from + i) % partitions,
          value: `g-${from + i}`,
        })),
      });
    }
    await producer.disconnect();

    const coordinator = await findCoordinator(cluster.broker(0).port, groupId);
    const survivors = [0, 1, 2].filter((id) => id !== coordinator);
    const via = cluster.broker(survivors[0]);

    // Watch the committed offsets through whichever broker coordinates the group.
    const highest = Array.from({ length: partitions }, () => -1);
    const backwards: string[] = [];
    let samples = 0;
    monitor = (async () => {
      while (monitoring) {
        try {
          const id = await findCoordinator(via.port, groupId);
          const offsets = await committedOffsets(cluster.broker(id).port, groupId, topic, 6);
          samples++;
          for (const [p, offset] of offsets.entries()) {
            if (offset < highest[p]) backwards.push(`p${p}: ${highest[p]} -> ${offset} (on ${id})`);
            highest[p] = Math.max(highest[p], offset);
          }
        } catch {
          // coordinator moving: try again
        }
        await sleep(100);
      }
    })();

    const consumed = new Map<number, number>();
    const groupEvents: string[] = [];
    let killedAt = 0;
    for (let i = 0; i < 2; i++) {
      const consumer = kafka.consumer({
        groupId,
        sessionTimeout: 10_000,
        rebalanceTimeout: 10_000,
        heartbeatInterval: 500,
        maxWaitTimeInMs: 200,
        // Few retries: kafkajs retries a dead coordinator's address until they run out, then
        // restarts the consumer, which looks the coordinator up again.
        retry: { initialRetryTime: 100, maxRetryTime: 500, retries: 5 },
      });
      consumers.push(consumer);
      const event = (what: string) =>
        groupEvents.push(`${killedAt ? `+${Date.now() - killedAt} ms` : 'before'}: ${i} ${what}`);
      consumer.on(consumer.events.GROUP_JOIN, () => event('joined'));
      consumer.on(consumer.events.CRASH, (e) => event(`restarted (${String(e.payload.error)})`));
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommitInterval: 200,
        eachMessage: async ({ message }) => {
          const n = Number(message.value!.toString().slice(2));
          consumed.set(n, (consumed.get(n) ?? 0) + 1);
          await sleep(4);
        },
      });
    }

    await eventually(async () => {
      expect(consumed.size).toBeGreaterThan(total / 4);
      expect(highest.some((o) => o > 0)).toBe(true);
    }, 60_000);
    const before = await committedOffsets(cluster.broker(coordinator).port, groupId, topic, 6);
    const consumedBefore = consumed.size;
    await cluster.broker(coordinator).kill9();
    killedAt = Date.now();

    // FindCoordinator names another broker once the dead one's lease is gone.
    const successor = await eventually(async () => {
      const id = await findCoordinator(via.port, groupId);
      expect(survivors).toContain(id);
      return id;
    }, 30_000);
    const movedMs = Date.now() - killedAt;
    // The committed offsets survived the move.
    const after = await eventually(
      () => committedOffsets(cluster.broker(successor).port, groupId, topic, 6),
      30_000,
    );
    for (let p = 0; p < partitions; p++) expect(after[p]).toBeGreaterThanOrEqual(before[p]);

    await eventually(async () => expect(consumed.size).toBe(total), 90_000);
    const doneMs = Date.now() - killedAt;
    // Everything is committed in the end, and the group is stable on its new coordinator.
    await eventually(
      async () =>
        expect(await committedOffsets(cluster.broker(successor).port, groupId, topic, 6)).toEqual(
          Array.from({ length: partitions }, () => total / partitions),
        ),
      30_000,
    );
    const described = await request<DescribeGroupsResponse>(
      cluster.broker(successor).port,
      DESCRIBE_GROUPS,
      3,
      { groups: [groupId], includeAuthorizedOperations: false },
    );
    expect(described.groups[0].groupState).toBe('Stable');
    expect(described.groups[0].members).toHaveLength(2);
    monitoring = false;
    await monitor;
    const redelivered = [...consumed.values()].filter((c) => c > 1).length;
    note(
      `group coordinator ${coordinator} killed after ${consumedBefore}/${total} records: ` +
        `FindCoordinator named ${successor} after ${movedMs} ms, consumption complete after ` +
        `${doneMs} ms, ${redelivered} records consumed twice, committed before kill ` +
        `[${before.join(',')}] after move [${after.join(',')}], ${samples} offset samples`,
    );
    note(`group member events: ${groupEvents.join('; ')}`);
    expect(backwards).toEqual([]);
    expect(samples).toBeGreaterThan(10);
  } finally {
    monitoring = false;
    await monitor;
    await Promise.all(consumers.map((c) => c.disconnect().catch(() => undefined)));
    await cluster.destroy();
  }
}, 180_000);

test('the verifier itself notices loss, misplaced offsets and duplicates', () => {
  const log = new Map([
    [
      0,
      new Map([
        [0, 0],
        [1, 1],
        [2, 3],
      ]),
    ],
    [1, new Map([[0, 3]])],
  ]);
  const acked = [
    { partition: 0, offset: 0, n: 0 },
    { partition: 0, offset: 1, n: 1 },
    { partition: 0, offset: 2, n: 2 }, // lost: 2 is nowhere
    { partition: 0, offset: 3, n: 3 }, // 3 is stored, but not at offset 3
    { partition: 0, offset: 1, n: 4 }, // offset 1 acknowledged twice
  ];
  expect(compare(acked, log)).toEqual({
    acked: 5,
    found: 2,
    lost: 2,
    duplicated: 1,
    offsetMismatches: 1,
    ackConflicts: 1,
  });
});
