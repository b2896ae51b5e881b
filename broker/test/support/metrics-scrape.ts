// Scrapes a broker's /metrics and reads samples out of the Prometheus text format.

import http from 'node:http';

/** One GET on a fresh connection (no keep-alive agent left open after the test). */
export function httpGet(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${path} timed out`)));
  });
}

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export class Scrape {
  constructor(
    readonly text: string,
    readonly samples: Sample[],
  ) {}

  /** Names declared with # TYPE (declared even before a labelled metric has its first sample). */
  get names(): Set<string> {
    return new Set([...this.text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]));
  }

  /** Samples of a name whose labels include the given ones. */
  all(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
  }

  /** Sum of the matching samples; undefined when there are none. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const found = this.all(name, labels);
    return found.length ? found.reduce((sum, s) => sum + s.value, 0) : undefined;
  }
}

export async function scrape(port: number): Promise<Scrape> {
  const response = await httpGet(port, '/metrics');
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  const text = response.body;
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return new Scrape(text, samples);
}

export async function probe(
  port: number,
  path: '/healthz' | '/readyz',
): Promise<{ status: number; body: string }> {
  return httpGet(port, path);
}
