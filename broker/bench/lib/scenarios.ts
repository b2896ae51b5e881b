// The scenarios of `make bench`. Each measures the broker and, in the same run, the limit it is
// compared with; each adds rows to the table and raw figures to the JSON results.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config.js';
import { KCAT } from '../../test/support/clients.js';
import { Backend, objectKinds, type BackendName } from './env.js';
import { produceKafkajs, timeGroupJoin, type GroupJoin } from './kafkajs.js';
import { consumeAll, produceAtRate, produceTimed, type Throughput } from './python.js';
import { meanConcurrency, rawGet, rawPut, type RawBudget, type RawResult } from './raw-store.js';
import { kib, mb, mib, ms, num, pct, percentile, type Row } from './report.js';
import { RssSampler } from './system.js';

export type ProducerKind = 'confluent-kafka' | 'kafkajs';

export interface Settings {
  quick: boolean;
  produceSeconds: number;
  sizes: number[];
  partitions: number[];
  clients: ProducerKind[];
  backends: BackendName[];
  rawBudget: RawBudget;
  backlogBytes: number;
  latencyMs: number[];
  latencySeconds: number;
  latencyRate: number;
  costPartitions: number[];
  costSeconds: number;
  costRate: number;
  groupMembers: number[];
  kcatBackends: BackendName[];
}

export function settings(quick: boolean): Settings {
  const MiB = 1024 * 1024;
  return quick
    ? {
        quick,
        produceSeconds: 3,
        sizes: [1024],
        partitions: [16],
        clients: ['confluent-kafka', 'kafkajs'],
        backends: ['s3', 'local'],
        rawBudget: { maxBytes: 32 * MiB, maxSeconds: 2 },
        backlogBytes: 24 * MiB,
        latencyMs: [20, 80],
        latencySeconds: 6,
        latencyRate: 250,
        costPartitions: [1, 100, 1000],
        costSeconds: 4,
        costRate: 1000,
        groupMembers: [1, 10],
        kcatBackends: ['s3'],
      }
    : {
        quick,
        produceSeconds: 5,
        sizes: [1024, 256],
        partitions: [1, 16, 256],
        clients: ['confluent-kafka', 'kafkajs'],
        backends: ['s3', 'local'],
        rawBudget: { maxBytes: 64 * MiB, maxSeconds: 4 },
        backlogBytes: 64 * MiB,
        latencyMs: [0, 20, 80],
        latencySeconds: 12,
        latencyRate: 250,
        costPartitions: [1, 100, 1000],
        costSeconds: 8,
        costRate: 1000,
        groupMembers: [1, 10],
        kcatBackends: ['s3', 'local'],
      };
}

/** The upstream project's published kcat laptop figures (2,000 records of 256 B). */
export const UPSTREAM = { produce: 4100, consume: 1100, endToEnd: 553 };
/** The cache the brokers run with: they inherit this process's environment. */
export const BROKER_CACHE_BYTES = loadConfig(process.env).cacheBytes;
/** The RSS budget: 300 MiB plus that cache. */
export const RSS_TARGET_BYTES = 300 * 1024 * 1024 + BROKER_CACHE_BYTES;

export interface ProduceResult extends Throughput {
  backend: BackendName;
  client: ProducerKind;
  size: number;
  partitions: number;
  mbps: number;
  recordsPerSecond: number;
  puts: number;
  gets: number;
  putsPerSecond: number;
  putsPerMB: number;
  getsPerSecond: number;
  objects: number;
  objectKinds: Record<string, number>;
  meanObjectBytes: number;
  putConcurrency: number;
  maxInFlight?: number;
  raw: RawResult;
  cpuSeconds: number;
  cpuSecondsPerGB: number;
  peakRssBytes: number;
}

export interface ConsumeResult {
  backend: BackendName;
  backlog: Throughput & { cpuSeconds: number; peakRssBytes: number };
  tail: Throughput & { cpuSeconds: number; gets: number };
  cold: Throughput & {
    cpuSeconds: number;
    gets: number;
    /** Of those, GETs of packed objects (s3 only): the layout the restart found. */
    packedGets?: number;
    getConcurrency: number;
  };
  rawGet: RawResult;
  peakRssBytes: number;
}

export interface LatencyResult {
  addedMs: number;
  rate: number;
  partitions: number;
  sent: number;
  delivered: number;
  received: number;
  errorCount: number;
  produce: { p50: number; p95: number; p99: number; max: number };
  e2e: { p50: number; p95: number; p99: number; max: number };
  putsPerSecond: number;
}

export interface CostResult {
  partitions: number;
  rate: number;
  seconds: number;
  delivered: number;
  bytes: number;
  puts: number;
  gets: number;
  putsPerSecond: number;
  putsPerMB: number;
  getsPerSecond: number;
  /** After the first second. */
  produceP99: number;
  /** Records sent in the first second, while the broker takes the partitions. */
  firstSecondP99: number;
  objectKinds: Record<string, number>;
}

export interface KcatResult {
  backend: BackendName;
  records: number;
  size: number;
  produce: { seconds: number; perSecond: number };
  consume: { seconds: number; perSecond: number };
  endToEnd: { seconds: number; perSecond: number };
}

export interface GroupResult extends GroupJoin {
  setting: string;
}

export interface Results {
  produce: ProduceResult[];
  consume: ConsumeResult[];
  latency: LatencyResult[];
  cost: CostResult[];
  group: GroupResult[];
  kcat: KcatResult[];
  errors: { scenario: string; error: string }[];
}

export class Bench {
  readonly rows: Row[] = [];
  readonly results: Results = {
    produce: [],
    consume: [],
    latency: [],
    cost: [],
    group: [],
    kcat: [],
    errors: [],
  };
  private readonly backends = new Map<BackendName, Promise<Backend>>();

  constructor(
    readonly settings: Settings,
    private readonly onRow: (row: Row) => void,
  ) {}

  backend(name: BackendName): Promise<Backend> {
    let backend = this.backends.get(name);
    if (!backend) {
      log(`starting the ${name} backend`);
      backend = Backend.start(name);
      this.backends.set(name, backend);
    }
    return backend;
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.backends.values()].map(async (b) => (await b.catch(() => undefined))?.stop()),
    );
  }

  row(row: Row): void {
    this.rows.push(row);
    this.onRow(row);
  }

  // 1 and 4: produce throughput against raw PUT; requests per second and per MB. -------------

  async produce(): Promise<void> {
    const s = this.settings;
    for (const name of s.backends) {
      const backend = await this.backend(name);
      for (const size of s.sizes) {
        for (const partitions of s.partitions) {
          for (const client of s.clients) {
            const label = `${name} ${client} ${kib(size)} x ${partitions}p`;
            log(`produce ${label}`);
            const r = await this.produceCase(backend, client, size, partitions);
            this.results.produce.push(r);
            this.row({
              scenario: '1 produce',
              case: label,
              measured: `${mb(r.bytes / r.seconds)}, ${num(r.recordsPerSecond)} rec/s`,
              limit: `raw PUT ${mb(r.raw.mbps * 1e6)} (${kib(r.raw.meanSize)} x ${r.raw.concurrency})`,
              ratio: pct(r.mbps, r.raw.mbps),
            });
          }
        }
      }
    }
    // Requests per second and per MB, from the same runs (librdkafka producer).
    for (const r of this.results.produce.filter((p) => p.client === 'confluent-kafka')) {
      this.row({
        scenario: '4 cost',
        case: `${r.backend} ${kib(r.size)} x ${r.partitions}p, ${mb(r.bytes / r.seconds)}`,
        measured:
          `${num(r.putsPerSecond)} PUT/s, ${num(r.putsPerMB, 1)} PUT/MB, ` +
          `${num(r.getsPerSecond)} GET/s`,
        limit: `${num(r.objects)} objects of ${kib(r.meanObjectBytes)} (${kinds(r.objectKinds)})`,
        ratio: '-',
      });
    }
  }

  private async produceCase(
    backend: Backend,
    client: ProducerKind,
    size: number,
    partitions: number,
  ): Promise<ProduceResult> {
    const s = this.settings;
    const topic = await backend.createTopic(`bench-p${partitions}-${size}`, partitions);
    const before = await backend.snapshot(true);
    backend.takeMaxInFlight();
    const sampler = new RssSampler(() => backend.broker.pid);
    const job = { bootstrap: backend.bootstrap, topic, size, seconds: s.produceSeconds };
    let t: Throughput;
    try {
      t = client === 'kafkajs' ? await produceKafkajs(job) : await produceTimed(job);
    } finally {
      sampler.stop();
    }
    const after = await backend.snapshot();
    const maxInFlight = backend.takeMaxInFlight();
    const written = await backend.writtenSince(before);
    const puts = after.store.put - before.store.put;
    const gets = after.store.get - before.store.get;
    const putConcurrency = meanConcurrency(
      after.store.putSeconds - before.store.putSeconds,
      t.seconds,
    );
    const raw = await rawPut(backend.scratch, written, putConcurrency, s.rawBudget);
    const objectBytes = written.reduce((sum, o) => sum + o.size, 0);
    const cpu = after.cpu - before.cpu;
    return {
      backend: backend.name,
      client,
      size,
      partitions,
      ...t,
      mbps: t.bytes / t.seconds / 1e6,
      recordsPerSecond: t.records / t.seconds,
      puts,
      gets,
      putsPerSecond: puts / t.seconds,
      putsPerMB: puts / (t.bytes / 1e6),
      getsPerSecond: gets / t.seconds,
      objects: written.length,
      objectKinds: objectKinds(written),
      meanObjectBytes: written.length ? objectBytes / written.length : 0,
      putConcurrency,
      maxInFlight,
      raw,
      cpuSeconds: cpu,
      cpuSecondsPerGB: cpu / (t.bytes / 1e9),
      peakRssBytes: sampler.peak,
    };
  }

  // 2 and 5: consume from the tail and cold after a restart, against raw GET; CPU and RSS. ------

  async consume(): Promise<void> {
    const s = this.settings;
    for (const name of s.backends) {
      const backend = await this.backend(name);
      log(`consume ${name}: producing a ${mib(s.backlogBytes)} backlog`);
      const topic = await backend.createTopic('bench-consume', 16);
      const before = await backend.snapshot(true);
      const sampler = new RssSampler(() => backend.broker.pid);
      const bootstrap = backend.bootstrap;
      let result: ConsumeResult;
      try {
        const backlog = await produceTimed({
          bootstrap,
          topic,
          size: 1024,
          seconds: 600,
          maxRecords: Math.round(s.backlogBytes / 1024),
        });
        const produced = await backend.snapshot();
        const producePeak = sampler.peak;
        log(`consume ${name}: tail`);
        const tail = await consumeAll({ bootstrap, topic, timeoutSeconds: 300 });
        const tailAfter = await backend.snapshot();
        log(`consume ${name}: restart, cold`);
        await backend.broker.restart();
        const coldBefore = await backend.snapshot();
        const cold = await consumeAll({ bootstrap, topic, timeoutSeconds: 300 });
        const coldAfter = await backend.snapshot();
        const getConcurrency = meanConcurrency(
          coldAfter.store.getSeconds - coldBefore.store.getSeconds,
          cold.seconds,
        );
        const written = await backend.writtenSince(before);
        const raw = await rawGet(backend.store, written, getConcurrency, {
          ...s.rawBudget,
          maxBytes: Number.MAX_SAFE_INTEGER,
        });
        result = {
          backend: name,
          backlog: { ...backlog, cpuSeconds: produced.cpu - before.cpu, peakRssBytes: producePeak },
          tail: {
            ...tail,
            cpuSeconds: tailAfter.cpu - produced.cpu,
            gets: tailAfter.store.get - produced.store.get,
          },
          cold: {
            ...cold,
            cpuSeconds: coldAfter.cpu - coldBefore.cpu,
            gets: coldAfter.store.get - coldBefore.store.get,
            packedGets:
              coldAfter.packedGets === undefined
                ? undefined
                : coldAfter.packedGets - coldBefore.packedGets!,
            getConcurrency,
          },
          rawGet: raw,
          peakRssBytes: sampler.peak,
        };
      } finally {
        sampler.stop();
      }
      this.results.consume.push(result);
      const r = result;
      const rawText = `raw GET ${mb(r.rawGet.mbps * 1e6)} (${kib(r.rawGet.meanSize)} x ${r.rawGet.concurrency})`;
      this.row({
        scenario: '2 consume',
        case: `${name} tail (cache), ${mib(r.tail.bytes)}`,
        measured: `${mb(r.tail.bytes / r.tail.seconds)}, ${num(r.tail.records / r.tail.seconds)} rec/s`,
        limit: `${rawText}; target >= 100 MB/s`,
        ratio: pct(r.tail.bytes / r.tail.seconds, r.rawGet.mbps * 1e6),
      });
      this.row({
        scenario: '2 consume',
        case:
          `${name} cold after restart, ${num(r.cold.gets)} GETs` +
          (r.cold.packedGets === undefined ? '' : ` (${num(r.cold.packedGets)} packed)`),
        measured: `${mb(r.cold.bytes / r.cold.seconds)}, ${num(r.cold.records / r.cold.seconds)} rec/s`,
        limit: `${rawText}; target >= 60%`,
        ratio: pct(r.cold.bytes / r.cold.seconds, r.rawGet.mbps * 1e6),
      });
    }
  }

  /** Rows of scenario 5 from what produce and consume measured. */
  resources(): void {
    for (const name of this.settings.backends) {
      const c = this.results.consume.find((r) => r.backend === name);
      const produced = this.results.produce.filter((r) => r.backend === name);
      const perGB = (cpu: number, bytes: number) => `${(cpu / (bytes / 1e9)).toFixed(1)} CPU s/GB`;
      const headline = produced.find(
        (r) => r.client === 'confluent-kafka' && r.size === 1024 && r.partitions === 16,
      );
      if (headline) {
        this.row({
          scenario: '5 resources',
          case: `${name} produce 1 KiB x 16p (librdkafka)`,
          measured: perGB(headline.cpuSeconds, headline.bytes),
          limit: '-',
          ratio: '-',
        });
      }
      if (c) {
        for (const [label, t] of [
          ['produce backlog 1 KiB x 16p', c.backlog],
          ['consume tail', c.tail],
          ['consume cold', c.cold],
        ] as const) {
          this.row({
            scenario: '5 resources',
            case: `${name} ${label}`,
            measured: perGB(t.cpuSeconds, t.bytes),
            limit: '-',
            ratio: '-',
          });
        }
      }
      const peak = Math.max(
        0,
        ...produced.map((r) => r.peakRssBytes),
        c?.backlog.peakRssBytes ?? 0,
      );
      if (peak > 0) {
        const target = RSS_TARGET_BYTES;
        this.row({
          scenario: '5 resources',
          case: `${name} peak RSS under produce load`,
          measured: mib(peak),
          limit: `target < ${mib(target)} (300 MiB + cache)`,
          ratio: pct(peak, target),
        });
      }
      if (c) {
        this.row({
          scenario: '5 resources',
          case: `${name} peak RSS, consume scenario`,
          measured: mib(c.peakRssBytes),
          limit: '-',
          ratio: '-',
        });
      }
    }
  }

  // 3: latency with the object store behind the latency proxy. --------------------------------

  async latency(): Promise<void> {
    // A broker of its own: no compaction or backlog left over from other scenarios.
    log('latency: starting a fresh s3 backend');
    const backend = await Backend.start('s3');
    try {
      await this.latencyOn(backend);
    } finally {
      await backend.stop();
    }
  }

  private async latencyOn(backend: Backend): Promise<void> {
    const s = this.settings;
    const proxy = backend.proxy!;
    const partitions = 16;
    for (const addedMs of s.latencyMs) {
      log(`latency: ${addedMs} ms per object-store request`);
      const topic = await backend.createTopic(`bench-latency-${addedMs}`, partitions);
      proxy.latencyMs = addedMs;
      const before = await backend.snapshot();
      let r;
      try {
        r = await produceAtRate({
          bootstrap: backend.bootstrap,
          topic,
          rate: s.latencyRate,
          seconds: s.latencySeconds,
          size: 1024,
          warmup: 2,
          consume: true,
        });
      } finally {
        proxy.latencyMs = 0;
      }
      const after = await backend.snapshot();
      const summary = (v: number[]) => ({
        p50: percentile(v, 50),
        p95: percentile(v, 95),
        p99: percentile(v, 99),
        max: percentile(v, 100),
      });
      const result: LatencyResult = {
        addedMs,
        rate: s.latencyRate,
        partitions,
        sent: r.sent,
        delivered: r.delivered,
        received: r.received,
        errorCount: r.errorCount,
        produce: summary(r.produceMs),
        e2e: summary(r.e2eMs),
        putsPerSecond: (after.store.put - before.store.put) / r.seconds,
      };
      this.results.latency.push(result);
      const targets: Record<number, [number, number | undefined]> = {
        20: [100, 150],
        80: [300, undefined],
      };
      const target = targets[addedMs];
      const met =
        target === undefined
          ? '-'
          : result.produce.p99 < target[0] &&
              (target[1] === undefined || result.e2e.p99 < target[1])
            ? 'met'
            : 'not met';
      const lost = r.sent - r.received;
      this.row({
        scenario: '3 latency',
        case: `+${addedMs} ms/request, ${s.latencyRate} rec/s x 1 KiB, ${partitions}p`,
        measured:
          `produce p50/p95/p99 ${ms(result.produce.p50)}/${ms(result.produce.p95)}/` +
          `${ms(result.produce.p99)}; e2e p50/p99 ${ms(result.e2e.p50)}/${ms(result.e2e.p99)}` +
          (lost > 0 || r.errorCount > 0 ? `; ${lost} not received, ${r.errorCount} errors` : ''),
        limit:
          target === undefined
            ? 'no target'
            : `produce p99 < ${target[0]} ms` + (target[1] ? `, e2e p99 < ${target[1]} ms` : ''),
        ratio: met,
      });
    }
  }

  // 4: PUTs per second as partitions grow, at a fixed produce rate. ---------------------------

  async cost(): Promise<void> {
    log('cost: starting a fresh s3 backend');
    const backend = await Backend.start('s3');
    try {
      await this.costOn(backend);
    } finally {
      await backend.stop();
    }
  }

  private async costOn(backend: Backend): Promise<void> {
    const s = this.settings;
    let base: number | undefined;
    for (const partitions of s.costPartitions) {
      log(`cost: ${partitions} partitions at ${s.costRate} rec/s`);
      const topic = await backend.createTopic(`bench-cost-${partitions}`, partitions);
      const before = await backend.snapshot(true);
      const r = await produceAtRate({
        bootstrap: backend.bootstrap,
        topic,
        rate: s.costRate,
        seconds: s.costSeconds,
        size: 1024,
        // The first second includes taking every partition (etcd round trips); reported apart.
        warmup: 1,
        consume: false,
      });
      const after = await backend.snapshot();
      const puts = after.store.put - before.store.put;
      const gets = after.store.get - before.store.get;
      const bytes = r.delivered * 1024;
      const result: CostResult = {
        partitions,
        rate: s.costRate,
        seconds: r.seconds,
        delivered: r.delivered,
        bytes,
        puts,
        gets,
        putsPerSecond: puts / r.seconds,
        putsPerMB: puts / (bytes / 1e6),
        getsPerSecond: gets / r.seconds,
        produceP99: percentile(r.produceMs, 99),
        firstSecondP99: percentile(r.warmupMs, 99),
        objectKinds: objectKinds(await backend.writtenSince(before)),
      };
      this.results.cost.push(result);
      base ??= result.putsPerSecond;
      this.row({
        scenario: '4 cost',
        case: `s3 ${num(partitions)} partitions, ${num(s.costRate)} rec/s x 1 KiB`,
        measured:
          `${num(result.putsPerSecond)} PUT/s, ${num(result.putsPerMB, 1)} PUT/MB ` +
          `(${num(r.delivered / r.seconds)} rec/s delivered, p99 ${ms(result.produceP99)}, ` +
          `first second ${ms(result.firstSecondP99)}; ` +
          `${kinds(result.objectKinds)})`,
        limit: 'independent of partition count',
        ratio: `${(result.putsPerSecond / base).toFixed(1)}x of 1p`,
      });
    }
  }

  // 6: consumer group join time. --------------------------------------------------------------

  async group(): Promise<void> {
    const s = this.settings;
    const runs: [string, Backend, () => Promise<void>][] = [];
    runs.push(['s3 default settings', await this.backend('s3'), async () => undefined]);
    log('group: starting a broker with KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS=0');
    const nodelay = await Backend.start('local', {
      KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    });
    runs.push(['local, initial rebalance delay 0', nodelay, () => nodelay.stop()]);
    try {
      for (const [setting, backend] of runs) {
        const partitions = 10;
        for (const members of s.groupMembers) {
          log(`group: ${members} member(s), ${setting}`);
          const topic = await backend.createTopic('bench-group', partitions);
          const r = await timeGroupJoin(backend.bootstrap, topic, partitions, members);
          this.results.group.push({ ...r, setting });
          this.row({
            scenario: '6 group join',
            case: `${members} member(s) (kafkajs), ${setting}`,
            measured: `${r.seconds.toFixed(2)} s, ${r.joins} joins`,
            limit: setting.startsWith('s3') ? 'includes the 3 s initial rebalance delay' : '-',
            ratio: '-',
          });
        }
      }
    } finally {
      for (const [, , stop] of runs) await stop();
    }
  }

  // 7: the upstream kcat laptop scenario. -----------------------------------------------------

  async kcat(): Promise<void> {
    const records = 2000;
    const size = 256;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafscale-bench-kcat-'));
    const file = path.join(dir, 'records.txt');
    const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
    const line = () => [...randomBytes(size)].map((b) => alphabet[b % alphabet.length]).join('');
    fs.writeFileSync(file, Array.from({ length: records }, line).join('\n') + '\n');
    try {
      for (const name of this.settings.kcatBackends) {
        const backend = await this.backend(name);
        const b = backend.bootstrap;
        log(`kcat ${name}: produce, consume, end to end`);
        const backlog = await backend.createTopic('bench-kcat', 1);
        const produce = await timed(() =>
          runKcat(['-P', '-b', b, '-t', backlog, '-l', file, '-X', 'acks=all']),
        );
        const consume = await timed(() =>
          runKcat(['-C', '-b', b, '-t', backlog, '-o', 'beginning', '-e', '-q', '-f', '%s\\n']),
        );
        if (consume.value !== records) {
          throw new Error(`kcat consumed ${consume.value} records; ${kcatErrors.join(' / ')}`);
        }
        const e2eTopic = await backend.createTopic('bench-kcat-e2e', 1);
        const e2e = await timed(async () => {
          const consumer = runKcat(
            ['-C', '-b', b, '-t', e2eTopic, '-o', 'beginning', '-c', String(records), '-q'].concat([
              '-f',
              '%s\\n',
            ]),
          );
          await runKcat(['-P', '-b', b, '-t', e2eTopic, '-l', file, '-X', 'acks=all']);
          return consumer;
        });
        if (e2e.value !== records) {
          throw new Error(`kcat end to end got ${e2e.value} records; ${kcatErrors.join(' / ')}`);
        }
        const rate = (seconds: number) => ({ seconds, perSecond: records / seconds });
        const result: KcatResult = {
          backend: name,
          records,
          size,
          produce: rate(produce.seconds),
          consume: rate(consume.seconds),
          endToEnd: rate(e2e.seconds),
        };
        this.results.kcat.push(result);
        for (const [label, m, upstream] of [
          ['produce backlog', result.produce, UPSTREAM.produce],
          ['consume from beginning', result.consume, UPSTREAM.consume],
          ['end to end', result.endToEnd, UPSTREAM.endToEnd],
        ] as const) {
          this.row({
            scenario: '7 kcat laptop',
            case: `${name} 2,000 x 256 B ${label}`,
            measured: `${num(m.perSecond)} msg/s (${m.seconds.toFixed(2)} s)`,
            limit: `upstream ${num(upstream)} msg/s`,
            ratio: `${(m.perSecond / upstream).toFixed(1)}x`,
          });
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
}

const kinds = (k: Record<string, number>) =>
  Object.entries(k)
    .map(([kind, n]) => `${n} ${kind}`)
    .join(', ') || 'none';

async function timed<T>(run: () => Promise<T>): Promise<{ seconds: number; value: T }> {
  const start = performance.now();
  const value = await run();
  return { seconds: (performance.now() - start) / 1000, value };
}

/** Runs kcat (process start-up included, as a shell `time` would) and counts output lines. */
function runKcat(args: string[], timeoutMs = 120_000): Promise<number> {
  return runKcatOutput(args, timeoutMs).then(({ lines, stderr }) => {
    if (args[0] === '-C' && stderr.trim() !== '') kcatErrors.push(stderr.trim().slice(-500));
    return lines;
  });
}

/** What kcat consumers printed on stderr, quoted when a count does not match. */
const kcatErrors: string[] = [];

function runKcatOutput(
  args: string[],
  timeoutMs: number,
): Promise<{ lines: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(KCAT, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let lines = 0;
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      for (const byte of chunk) if (byte === 0x0a) lines++;
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    child.once('error', reject);
    // 'close', not 'exit': a process can exit before its last output has been read from the pipe.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve({ lines, stderr });
      else reject(new Error(`kcat ${args[0]} exited with ${code ?? signal}: ${stderr}`));
    });
  });
}

export function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}
