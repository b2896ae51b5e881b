// The emulated cluster's network: every pod and Service gets its own loopback address in a /16
// of 127.0.0.0/8 that is this runner's alone, and the cluster's DNS names are published in a
// marked block of /etc/hosts. Every program then resolves them through the system resolver as
// it would in a pod: Node (getaddrinfo), librdkafka (kcat, confluent-kafka), Go (etcd), Python.
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const MARK = '# kafscale-e2e';
const LOCK_STALE_MS = 10_000;

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface Block {
  prefix: string;
  pid: number;
  lines: string[];
}

/** Splits a hosts file into the lines outside any runner's block and the blocks. */
function parse(text: string): { outside: string[]; blocks: Block[] } {
  const outside: string[] = [];
  const blocks: Block[] = [];
  let current: Block | undefined;
  for (const line of text.split('\n')) {
    const begin = new RegExp(`^${MARK} begin (\\S+) pid=(\\d+)$`).exec(line);
    if (begin) {
      current = { prefix: begin[1], pid: Number(begin[2]), lines: [] };
      blocks.push(current);
    } else if (current && line.startsWith(`${MARK} end`)) {
      current = undefined;
    } else if (current) {
      current.lines.push(line);
    } else {
      outside.push(line);
    }
  }
  while (outside.length > 0 && outside[outside.length - 1] === '') outside.pop();
  return { outside, blocks };
}

export class ClusterDns {
  private nextPod = 0;
  private nextService = 0;
  private published = '';

  private constructor(
    /** `127.R`: the first two octets of every address this runner hands out. */
    readonly prefix: string,
    private readonly hostsFile: string,
  ) {}

  /** Claims a /16 no other live runner uses and publishes an empty block for it. */
  static open(hostsFile = process.env.KAFSCALE_E2E_HOSTS_FILE ?? '/etc/hosts'): ClusterDns {
    let dns: ClusterDns | undefined;
    ClusterDns.edit(hostsFile, (blocks) => {
      const used = new Set(blocks.map((b) => b.prefix));
      for (let attempt = 0; attempt < 1000 && !dns; attempt++) {
        const prefix = `127.${10 + Math.floor(Math.random() * 240)}`;
        if (!used.has(prefix)) dns = new ClusterDns(prefix, hostsFile);
      }
      if (!dns) throw new Error('no free 127.x.0.0/16 for the emulated cluster');
      return [...blocks, { prefix: dns.prefix, pid: process.pid, lines: [] }];
    });
    return dns!;
  }

  /** Reads, changes and writes the hosts file under a lock shared by every runner on the machine. */
  private static edit(hostsFile: string, change: (blocks: Block[]) => Block[]): void {
    const lock = join(tmpdir(), 'kafscale-e2e-hosts.lock');
    for (let waited = 0; ; waited += 20) {
      try {
        mkdirSync(lock);
        break;
      } catch {
        try {
          if (Date.now() - statSync(lock).mtimeMs > LOCK_STALE_MS)
            rmSync(lock, { force: true, recursive: true });
        } catch {
          // Gone between the two calls: try again.
        }
        if (waited > 30_000) throw new Error(`timed out waiting for ${lock}`);
        sleepSync(20);
      }
    }
    try {
      let text: string;
      try {
        text = readFileSync(hostsFile, 'utf8');
      } catch (e) {
        throw new Error(`the e2e runner publishes cluster DNS names in ${hostsFile}: ${String(e)}`);
      }
      const { outside, blocks } = parse(text);
      const kept = change(blocks.filter((b) => alive(b.pid)));
      const out = [...outside, ''];
      for (const b of kept) {
        out.push(`${MARK} begin ${b.prefix} pid=${b.pid}`, ...b.lines, `${MARK} end ${b.prefix}`);
      }
      // Written in place: /etc/hosts may be a bind mount that cannot be renamed over.
      writeFileSync(hostsFile, out.join('\n') + '\n');
    } finally {
      rmSync(lock, { force: true, recursive: true });
    }
  }

  allocatePodIp(): string {
    const n = this.nextPod++;
    return `${this.prefix}.${Math.floor(n / 250)}.${(n % 250) + 2}`;
  }

  allocateServiceIp(): string {
    const n = this.nextService++;
    return `${this.prefix}.${128 + Math.floor(n / 250)}.${(n % 250) + 2}`;
  }

  /** Replaces every record (name -> addresses) and publishes them if anything changed. */
  setRecords(records: Map<string, string[]>): void {
    const lines: string[] = [];
    for (const name of [...records.keys()].sort()) {
      for (const ip of records.get(name)!) lines.push(`${ip} ${name}`);
    }
    const text = lines.join('\n');
    if (text === this.published) return;
    this.published = text;
    ClusterDns.edit(this.hostsFile, (blocks) =>
      blocks.map((b) => (b.prefix === this.prefix ? { ...b, lines } : b)),
    );
  }

  /** Removes this runner's block. */
  close(): void {
    ClusterDns.edit(this.hostsFile, (blocks) => blocks.filter((b) => b.prefix !== this.prefix));
  }
}
