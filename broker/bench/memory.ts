// Where a broker's memory goes under produce load: one compiled broker runs librdkafka produce
// cases (1 KiB and 256 B records into 1, 16 and 256 partitions, as scenario 1 of `make bench`),
// and at every new RSS peak the harness notes the broker's own figures (V8 heap, Node's external
// memory, the segment cache, the produce buffer). At the end it prints resident memory by kind of
// mapping at the peak, and with --trim what glibc's malloc_trim(0) (called through gdb) gives back:
// free memory the allocator kept.
//
//   npx tsx broker/bench/memory.ts [--backend local|s3] [--seconds 3] [--env NAME=VALUE ...] [--trim]
//
// --env sets a variable for the broker (MALLOC_MMAP_THRESHOLD_=32768, KAFSCALE_CACHE_BYTES=...).
// Compare settings in runs made one after the other: the machine is shared and noisy.

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Backend, buildBroker, type BackendName } from './lib/env.js';
import { produceTimed } from './lib/python.js';
import { cpuSeconds, memory } from './lib/system.js';
import { scrape } from '../test/support/metrics-scrape.js';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'local' },
    seconds: { type: 'string', default: '3' },
    env: { type: 'string', multiple: true, default: [] },
    trim: { type: 'boolean', default: false },
  },
});
const env = Object.fromEntries(
  values.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
);
const MiB = 1024 * 1024;
const mib = (n: number) => `${(n / MiB).toFixed(0)} MiB`;

interface Peak {
  rss: number;
  heapUsed: number;
  external: number;
  cache: number;
  produceBuffer: number;
  during: string;
  smaps: string;
}

/** Resident memory of a process by kind of mapping: named files, [heap], anonymous by size. */
function residentByMapping(smaps: string): [string, number][] {
  const kinds = new Map<string, number>();
  let kind = '';
  for (const line of smaps.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      const size = (parseInt(head[2], 16) - parseInt(head[1], 16)) / MiB;
      const anonymous = size >= 64 ? 'anonymous, 64 MiB and over' : 'anonymous, under 64 MiB';
      kind = head[3] || anonymous;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) kinds.set(kind, (kinds.get(kind) ?? 0) + Number(rss[1]) * 1024);
  }
  return [...kinds].filter(([, bytes]) => bytes >= MiB).sort((a, b) => b[1] - a[1]);
}

buildBroker();
const backend = await Backend.start(values.backend as BackendName, env);
const metricsPort = backend.broker.metricsPort!;
let peak: Peak = {
  rss: 0,
  heapUsed: 0,
  external: 0,
  cache: 0,
  produceBuffer: 0,
  during: '',
  smaps: '',
};
let during = '';
let sampling = false;
const sampler = setInterval(() => {
  if (sampling) return;
  sampling = true;
  void (async () => {
    const { rss } = memory(backend.pid);
    if (rss <= peak.rss) return;
    const smaps = readFileSync(`/proc/${backend.pid}/smaps`, 'utf8');
    const s = await scrape(metricsPort);
    peak = {
      rss,
      heapUsed: s.value('nodejs_heap_size_used_bytes') ?? 0,
      external: s.value('nodejs_external_memory_bytes') ?? 0,
      cache: s.value('kafscale_cache_bytes') ?? 0,
      produceBuffer: s.value('kafscale_produce_buffer_bytes') ?? 0,
      during,
      smaps,
    };
  })()
    .catch(() => undefined)
    .finally(() => (sampling = false));
}, 100);

try {
  const cpuBefore = cpuSeconds(backend.pid);
  let produced = 0;
  console.log(`broker environment: ${JSON.stringify(env)}; ${values.backend} backend\n`);
  console.log(
    '| case | MB/s | peak RSS so far | V8 heap used | external | cache | produce buffer |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const size of [1024, 256]) {
    for (const partitions of [1, 16, 256]) {
      during = `${size} B x ${partitions}p`;
      const topic = await backend.createTopic(`memory-${partitions}-${size}`, partitions);
      const seconds = Number(values.seconds);
      const t = await produceTimed({ bootstrap: backend.bootstrap, topic, size, seconds });
      produced += t.bytes;
      console.log(
        `| ${during} | ${(t.bytes / t.seconds / 1e6).toFixed(1)} | ${mib(peak.rss)} (${peak.during}) | ` +
          `${mib(peak.heapUsed)} | ${mib(peak.external)} | ${mib(peak.cache)} | ${mib(peak.produceBuffer)} |`,
      );
    }
  }
  const cpu = cpuSeconds(backend.pid) - cpuBefore;
  console.log(`\nCPU: ${(cpu / (produced / 1e9)).toFixed(1)} s per GB produced`);
  console.log(`\nResident at the peak (${mib(peak.rss)}), by mapping:`);
  for (const [kind, bytes] of residentByMapping(peak.smaps))
    console.log(`- ${kind}: ${mib(bytes)}`);
  if (values.trim) {
    const before = memory(backend.pid).rss;
    execFileSync('gdb', ['-p', String(backend.pid), '-batch', '-ex', 'call (int)malloc_trim(0)'], {
      stdio: 'ignore',
      timeout: 60_000,
    });
    console.log(`\nmalloc_trim(0): RSS ${mib(before)} -> ${mib(memory(backend.pid).rss)}`);
  }
} finally {
  clearInterval(sampler);
  await backend.stop();
}
