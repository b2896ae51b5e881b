// `make bench`: every scenario of the benchmark issue, each beside the limit it is compared with,
// measured in the same run. Prints a table (Markdown) and writes .bench/results-<timestamp>.json.
//
//   npx tsx broker/bench/run.ts [--quick] [--only produce,consume,latency,cost,resources,group,kcat]
//                               [--out .bench] [--profile DIR]
//
// Brokers are real processes, compiled from the source first and run with their default settings
// and the image's environment (plus the backend's variables), so the harness measures whatever the
// code does when it runs, including KAFSCALE_PACK_SEGMENTS if it is set in the environment. The machine is shared and noisy:
// compare ratios measured in the same run, not figures across runs.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { brokerNodeArgs, buildBroker } from './lib/env.js';
import { PYTHON } from './lib/python.js';
import { pct, table, type Row } from './lib/report.js';
import {
  BROKER_CACHE_BYTES,
  Bench,
  RSS_TARGET_BYTES,
  UPSTREAM,
  log,
  settings,
} from './lib/scenarios.js';
import { machineInfo } from './lib/system.js';

const SCENARIOS = ['consume', 'produce', 'cost', 'latency', 'group', 'kcat'] as const;
type Scenario = (typeof SCENARIOS)[number];

interface Target {
  target: string;
  measured: string;
  met: boolean | null;
}

function targets(bench: Bench): Target[] {
  const r = bench.results;
  const out: Target[] = [];
  for (const p of r.produce.filter(
    (p) => p.client === 'confluent-kafka' && p.size === 1024 && p.partitions === 16,
  )) {
    out.push({
      target: `produce ${p.backend} 1 KiB x 16p acks=all >= 60% of raw PUT`,
      measured: `${p.mbps.toFixed(1)} of ${p.raw.mbps.toFixed(1)} MB/s = ${pct(p.mbps, p.raw.mbps)}`,
      met: p.mbps >= 0.6 * p.raw.mbps,
    });
    out.push({
      target: `produce ${p.backend} 1 KiB x 16p >= 50x upstream kcat (${50 * UPSTREAM.produce} rec/s)`,
      measured: `${Math.round(p.recordsPerSecond)} rec/s = ${(p.recordsPerSecond / UPSTREAM.produce).toFixed(1)}x`,
      met: p.recordsPerSecond >= 50 * UPSTREAM.produce,
    });
  }
  for (const c of r.consume) {
    const tail = c.tail.bytes / c.tail.seconds / 1e6;
    const cold = c.cold.bytes / c.cold.seconds / 1e6;
    out.push({
      target: `tail consume ${c.backend} >= 100 MB/s`,
      measured: `${tail.toFixed(1)} MB/s`,
      met: tail >= 100,
    });
    out.push({
      target: `cold consume ${c.backend} >= 60% of raw GET`,
      measured: `${cold.toFixed(1)} of ${c.rawGet.mbps.toFixed(1)} MB/s = ${pct(cold, c.rawGet.mbps)}`,
      met: cold >= 0.6 * c.rawGet.mbps,
    });
  }
  for (const l of r.latency) {
    if (l.addedMs === 20) {
      out.push({
        target: '+20 ms/request: produce p99 < 100 ms',
        measured: `${l.produce.p99.toFixed(0)} ms`,
        met: l.produce.p99 < 100,
      });
      out.push({
        target: '+20 ms/request: end-to-end p99 < 150 ms',
        measured: `${l.e2e.p99.toFixed(0)} ms`,
        met: l.e2e.p99 < 150,
      });
    }
    if (l.addedMs === 80) {
      out.push({
        target: '+80 ms/request: produce p99 < 300 ms',
        measured: `${l.produce.p99.toFixed(0)} ms`,
        met: l.produce.p99 < 300,
      });
    }
  }
  const first = r.cost[0];
  const last = r.cost[r.cost.length - 1];
  if (first && last && last !== first) {
    const growth = last.putsPerSecond / first.putsPerSecond;
    out.push({
      target: `PUT/s independent of partitions (${last.partitions} vs ${first.partitions}: within 1.5x)`,
      measured:
        `${r.cost.map((c) => `${c.partitions}p ${c.putsPerSecond.toFixed(0)}/s`).join(', ')} ` +
        `(${growth.toFixed(1)}x)`,
      met: growth <= 1.5,
    });
  }
  const target = RSS_TARGET_BYTES;
  const cacheMiB = Math.round(BROKER_CACHE_BYTES / 1024 / 1024);
  for (const backend of new Set(r.produce.map((p) => p.backend))) {
    const peak = Math.max(
      ...r.produce.filter((p) => p.backend === backend).map((p) => p.peakRssBytes),
    );
    out.push({
      target: `peak RSS ${backend} under produce < 300 MiB + ${cacheMiB} MiB cache`,
      measured: `${Math.round(peak / 1024 / 1024)} MiB`,
      met: peak < target,
    });
  }
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      out: { type: 'string', default: '.bench' },
      profile: { type: 'string' },
    },
  });
  if (values.profile) {
    // One .cpuprofile per broker process, written when it exits: see profile-summary.ts.
    brokerNodeArgs.push('--cpu-prof', `--cpu-prof-dir=${path.resolve(values.profile)}`);
  }
  const wanted = new Set(
    (values.only ?? SCENARIOS.join(','))
      .split(',')
      .map((s) => s.trim())
      .map((s) => (s === 'resources' ? 'consume' : s)),
  );
  for (const name of wanted) {
    if (!(SCENARIOS as readonly string[]).includes(name)) {
      throw new Error(`unknown scenario ${name}; known: ${SCENARIOS.join(', ')}, resources`);
    }
  }
  const s = settings(values.quick);
  buildBroker();
  const machine = machineInfo(PYTHON);
  const startedAt = new Date();
  log(
    `${values.quick ? 'quick' : 'default'} run of ${[...wanted].join(', ')} on ${machine.nproc} cores, ` +
      `node ${machine.node}, KAFSCALE_PACK_SEGMENTS ${machine.packSegments}`,
  );
  const bench = new Bench(s, (row: Row) =>
    log(`${row.scenario} | ${row.case} | ${row.measured} | ${row.limit} | ${row.ratio}`),
  );
  const durations: Record<string, number> = {};
  /** 1-minute load average after each scenario: how busy the shared machine was. */
  const load: Record<string, number> = {};
  const outFile = path.join(
    values.out,
    `results-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`,
  );
  const save = (targetList: Target[] = []) => {
    fs.mkdirSync(values.out, { recursive: true });
    const json = {
      startedAt: startedAt.toISOString(),
      quick: values.quick,
      scenarios: [...wanted],
      durations,
      load,
      machine,
      settings: s,
      rows: bench.rows,
      targets: targetList,
      results: bench.results,
    };
    fs.writeFileSync(outFile, JSON.stringify(json, null, 2));
  };
  try {
    for (const scenario of SCENARIOS.filter((name) => wanted.has(name))) {
      const start = performance.now();
      try {
        await bench[scenario satisfies Scenario]();
      } catch (error) {
        const text = error instanceof Error ? error.message : String(error);
        log(`${scenario} failed: ${text}`);
        bench.results.errors.push({ scenario, error: text });
        bench.row({
          scenario,
          case: 'FAILED',
          measured: text.split('\n')[0]!,
          limit: '-',
          ratio: '-',
        });
      }
      durations[scenario] = (performance.now() - start) / 1000;
      load[scenario] = os.loadavg()[0]!;
      save();
    }
    if (wanted.has('consume') || wanted.has('produce')) bench.resources();
  } finally {
    await bench.close();
  }
  const order = (row: Row) => row.scenario;
  const rows = [...bench.rows].sort((a, b) => order(a).localeCompare(order(b)));
  const targetList = targets(bench);
  const packed = [...bench.results.produce, ...bench.results.cost].reduce(
    (n, r) => n + (r.objectKinds['packed'] ?? 0),
    0,
  );
  save(targetList);
  const total = (Date.now() - startedAt.getTime()) / 1000;
  console.log(
    `\nKafScale benchmark, ${startedAt.toISOString()}, ${values.quick ? 'quick' : 'default'} run, ` +
      `${total.toFixed(0)} s; ${machine.nproc} cores, node ${machine.node}, commit ${machine.commit}` +
      `, KAFSCALE_PACK_SEGMENTS ${machine.packSegments}; load average ` +
      `${machine.loadAverage.map((l) => l.toFixed(1)).join(' ')} at start, ` +
      `${os.loadavg()[0]!.toFixed(1)} at end; packed objects written: ${packed}\n`,
  );
  console.log(table(rows));
  if (targetList.length > 0) {
    console.log('\n| target | measured | met |\n|---|---|---|');
    for (const t of targetList) {
      console.log(
        `| ${t.target} | ${t.measured} | ${t.met === null ? '-' : t.met ? 'yes' : 'no'} |`,
      );
    }
  }
  console.log(`\nresults: ${outFile}`);
  if (bench.results.errors.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
