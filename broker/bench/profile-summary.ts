// Where a CPU profile's time went: self time by package (or source folder) and by function, from
// the .cpuprofile files that `run.ts --profile DIR` (node --cpu-prof) writes, one per process.
//
//   npx tsx broker/bench/profile-summary.ts FILE.cpuprofile [--top 30] [--from handlers/fetch]
//
// --from counts only the samples from the first one whose stack holds that source path on, to
// leave out start-up (a restarted broker's profile starts with module loading).

import fs from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '30' }, from: { type: 'string' } },
});
if (positionals.length !== 1) {
  console.error('usage: profile-summary.ts FILE.cpuprofile [--top N] [--from PATH]');
  process.exit(2);
}
const profile = JSON.parse(fs.readFileSync(positionals[0], 'utf8')) as Profile;
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const parents = new Map<number, number>();
for (const n of profile.nodes) for (const child of n.children ?? []) parents.set(child, n.id);

function stackHolds(id: number, url: string): boolean {
  for (let n = nodes.get(id); n; n = nodes.get(parents.get(n.id) ?? -1)) {
    if (n.callFrame.url.includes(url)) return true;
  }
  return false;
}

const selfMicros = new Map<number, number>();
let counting = values.from === undefined;
profile.samples.forEach((id, i) => {
  counting ||= stackHolds(id, values.from!);
  if (counting) selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});

/** node_modules packages by name, the project's files by folder, node's by module. */
function owner(url: string, functionName: string): string {
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1];
  if (url.startsWith('node:')) return url;
  const project = /\/((?:broker|operator|e2e)\/(?:dist\/)?(?:src\/)?[^/]+)\//.exec(url);
  return project ? project[1] : url || functionName;
}

const byOwner = new Map<string, number>();
const byFunction = new Map<string, number>();
let total = 0;
for (const [id, micros] of selfMicros) {
  const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
  const where = url
    .replace(/^.*node_modules\//, '')
    .replace(/^file:\/\/.*?\/(broker|operator)\//, '$1/');
  const add = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + micros);
  add(byOwner, owner(url, functionName));
  add(byFunction, `${functionName || '(anonymous)'}${where ? ` ${where}:${lineNumber + 1}` : ''}`);
  total += micros;
}

function print(title: string, map: Map<string, number>): void {
  console.log(`\n${title}`);
  for (const [key, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top))) {
    const ms = (micros / 1000).toFixed(0).padStart(7);
    console.log(`${ms} ms ${((100 * micros) / total).toFixed(1).padStart(5)}%  ${key}`);
  }
}

console.log(`${positionals[0]}: ${(total / 1000).toFixed(0)} ms sampled`);
print('self time by package or folder', byOwner);
print('self time by function', byFunction);
