// Sarama, the Go Kafka client, for tests: the small program in test/clients/sarama built offline in
// GOPATH mode against Debian's golang-github-shopify-sarama-dev (/usr/share/gocode), once per test
// run, and cached under os.tmpdir() by the hash of its source, the Go toolchain and Sarama's.
//
// Records travel in the shapes of ./clients.ts (keys, values and header values base64-encoded
// on the wire to and from the program), so tests compare bytes exactly across clients.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Codec, ConsumedRecord, Delivery, Header, OutgoingRecord } from './clients.js';

const SOURCE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../clients/sarama');
/** Where Debian's golang-*-dev packages put Go sources (a GOPATH entry). */
export const DEBIAN_GOPATH = '/usr/share/gocode';
export const SARAMA_SOURCE = `${DEBIAN_GOPATH}/src/github.com/Shopify/sarama`;
const CACHE_DIR = path.join(os.tmpdir(), 'kafscale-sarama-client');

export interface SaramaBuild {
  binary: string;
  /** The Kafka version Sarama is configured for (config.Version), e.g. "2.2.0". */
  kafkaVersion: string;
  /**
   * Built with cgo (when gcc is there): Sarama 1.22's zstd is DataDog/zstd over Debian's
   * libzstd; its !cgo fallback refuses zstd.
   */
  cgo: boolean;
  /**
   * Codecs the producer can write. Not zstd, even with cgo: Sarama 1.22 sends zstd batches in
   * Produce v3, which Kafka (and the broker) refuse with UNSUPPORTED_COMPRESSION_TYPE (v7+ needed).
   */
  codecs: Codec[];
  /** False when this call compiled the program, true when it came from the cache. */
  cached: boolean;
  /** Time spent compiling (0 when cached). */
  buildMs: number;
}

function exec(
  file: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      {
        cwd: options.cwd,
        env: options.env,
        timeout: options.timeoutMs ?? 60_000,
        killSignal: 'SIGKILL',
        maxBuffer: 16 * 1024 * 1024,
      },
      (error, stdout, stderr) => {
        if (error) {
          const e = error as NodeJS.ErrnoException & { signal?: string };
          reject(
            Object.assign(
              new Error(`${file} ${args.join(' ')} failed (${e.code ?? e.signal}):\n${stderr}`),
              { code: e.code },
            ),
          );
        } else resolve({ stdout, stderr });
      },
    );
  });
}

async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    try {
      await fs.promises.access(path.join(dir, command), fs.constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

async function build(): Promise<SaramaBuild> {
  const install =
    'run scripts/install-deps.sh (Debian: golang-go golang-github-shopify-sarama-dev)';
  if (!(await onPath('go'))) throw new Error(`Sarama tests need the Go toolchain: ${install}`);
  if (!fs.existsSync(path.join(SARAMA_SOURCE, 'sarama.go'))) {
    throw new Error(`Sarama tests need Sarama's source in ${SARAMA_SOURCE}: ${install}`);
  }
  const { stdout: goVersion } = await exec('go', ['version']);
  // Sarama's zstd goes through cgo (Go's default CC is gcc); without it the program still builds,
  // without zstd.
  const cgo = await onPath('gcc');

  const hash = crypto.createHash('sha256');
  hash.update(goVersion).update(`cgo=${cgo}\n`);
  for (const file of fs.readdirSync(SOURCE_DIR).sort()) {
    if (file.endsWith('.go'))
      hash.update(file).update(fs.readFileSync(path.join(SOURCE_DIR, file)));
  }
  // utils.go carries Sarama's list of Kafka versions: it changes with every Sarama release.
  hash.update(fs.readFileSync(path.join(SARAMA_SOURCE, 'utils.go')));
  const binary = path.join(CACHE_DIR, `sarama-client-${hash.digest('hex').slice(0, 16)}`);

  let cached = true;
  let buildMs = 0;
  if (!fs.existsSync(binary)) {
    cached = false;
    fs.mkdirSync(path.join(CACHE_DIR, 'gopath'), { recursive: true });
    // Unique name, then rename: parallel test workers may build at the same time.
    const tmp = `${binary}.${process.pid}.${crypto.randomBytes(4).toString('hex')}`;
    const started = Date.now();
    await exec('go', ['build', '-o', tmp, '.'], {
      cwd: SOURCE_DIR,
      timeoutMs: 300_000,
      env: {
        ...process.env,
        GO111MODULE: 'off',
        GOPATH: `${path.join(CACHE_DIR, 'gopath')}${path.delimiter}${DEBIAN_GOPATH}`,
        GOCACHE: path.join(CACHE_DIR, 'gocache'),
        GOENV: 'off',
        GOFLAGS: '',
        GOPROXY: 'off',
        GOTOOLCHAIN: 'local',
        CGO_ENABLED: cgo ? '1' : '0',
      },
    });
    buildMs = Date.now() - started;
    fs.renameSync(tmp, binary);
  }
  const { stdout: kafkaVersion } = await exec(binary, ['version']);
  return {
    binary,
    kafkaVersion: kafkaVersion.trim(),
    cgo,
    codecs: ['none', 'gzip', 'snappy', 'lz4'],
    cached,
    buildMs,
  };
}

let building: Promise<SaramaBuild> | undefined;

/** Builds the Sarama program once per process (or takes it from the cache). */
export function buildSarama(): Promise<SaramaBuild> {
  building ??= build();
  return building;
}

// ---------------------------------------------------------------------------------------------
// Wire format of the program

type B64 = string | null;

interface JsonRecord {
  type?: string;
  topic: string;
  partition?: number;
  offset?: number;
  key: B64;
  value: B64;
  headers: [string, B64][];
  timestamp?: number;
}

const b64 = (b: Buffer | null): B64 => (b === null ? null : b.toString('base64'));
const unb64 = (s: B64): Buffer | null => (s === null ? null : Buffer.from(s, 'base64'));

function toConsumed(r: JsonRecord): ConsumedRecord {
  return {
    topic: r.topic,
    partition: r.partition!,
    offset: r.offset!,
    key: unb64(r.key),
    value: unb64(r.value),
    headers: r.headers.map(([name, value]): Header => [name, unb64(value)]),
    timestamp: r.timestamp!,
  };
}

// ---------------------------------------------------------------------------------------------
// produce

export interface SaramaProduceOptions {
  /** Producer.Idempotent with Net.MaxOpenRequests=1. */
  idempotent?: boolean;
  compression?: Codec;
  timeoutMs?: number;
}

/**
 * Sends the records with one Sarama SyncProducer (SendMessages, acks=all, Sarama's hash
 * partitioner for records without a partition) and returns where each landed, in order.
 */
export async function produceSarama(
  bootstrap: string,
  records: OutgoingRecord[],
  options: SaramaProduceOptions = {},
): Promise<Delivery[]> {
  const { binary } = await buildSarama();
  const args = ['produce', '-brokers', bootstrap];
  if (options.idempotent) args.push('-idempotent');
  if (options.compression) args.push('-compression', options.compression);
  const input = records
    .map((r) => {
      const line: JsonRecord = {
        topic: r.topic,
        key: b64(r.key),
        value: b64(r.value),
        headers: (r.headers ?? []).map(([name, value]) => [name, b64(value)]),
      };
      if (r.partition !== undefined) line.partition = r.partition;
      if (r.timestamp !== undefined) line.timestamp = r.timestamp;
      return JSON.stringify(line) + '\n';
    })
    .join('');
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  const result = await collect(child, input, options.timeoutMs ?? 60_000);
  const lines = result.stdout.split('\n').filter((l) => l !== '');
  if (result.code !== 0 || lines.length !== records.length) {
    throw new Error(
      `sarama produce exited with ${result.code} (${lines.length} of ${records.length} answers):\n` +
        `${result.stdout.slice(-2000)}\n${result.stderr.slice(-4000)}`,
    );
  }
  return lines.map((l) => {
    const d = JSON.parse(l) as Delivery;
    return { topic: d.topic, partition: d.partition, offset: d.offset };
  });
}

function collect(
  child: ChildProcess,
  input: string,
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`sarama timed out after ${timeoutMs} ms:\n${stderr.slice(-4000)}`));
    }, timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(input);
  });
}

// ---------------------------------------------------------------------------------------------
// consumer group members

export interface GroupSession {
  member: string;
  generation: number;
  /** topic -> partitions this member was assigned in this generation. */
  claims: Record<string, number[]>;
}

export interface SaramaMemberOptions {
  topics: string | string[];
  group: string;
  /** Exit after this many records (the ones past it are neither printed nor committed). */
  max?: number;
  /** Exit after this long (the program's own timer). */
  timeoutMs?: number;
  /** Where partitions without a committed offset start (Consumer.Offsets.Initial). */
  from?: 'oldest' | 'newest';
  clientId?: string;
}

const running = new Set<SaramaGroupMember>();

/**
 * One Sarama consumer group member (sarama.NewConsumerGroup) in its own process. It marks every
 * record it reports and commits (every second and when a session ends); stop() closes its stdin,
 * upon which it ends its session, commits, leaves the group and exits.
 */
export class SaramaGroupMember {
  readonly records: ConsumedRecord[] = [];
  readonly sessions: GroupSession[] = [];
  /** The session in progress (between Setup and Cleanup), if any. */
  current: GroupSession | null = null;
  done: { count: number; timedOut: boolean } | null = null;
  stderr = '';
  private exitCode: number | null | undefined;
  private readonly exited: Promise<void>;
  private readonly listeners = new Set<() => void>();

  private constructor(private readonly child: ChildProcess) {
    let pending = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (line) this.onLine(line);
      }
      this.notify();
    });
    child.stderr!.setEncoding('utf8').on('data', (s: string) => {
      this.stderr += s;
      if (this.stderr.length > 200_000) this.stderr = this.stderr.slice(-100_000);
    });
    child.stdin!.on('error', () => undefined);
    this.exited = new Promise((resolve) =>
      child.once('close', (code) => {
        this.exitCode = code;
        running.delete(this);
        this.notify();
        resolve();
      }),
    );
  }

  static async start(bootstrap: string, options: SaramaMemberOptions): Promise<SaramaGroupMember> {
    const { binary } = await buildSarama();
    const topics = typeof options.topics === 'string' ? [options.topics] : options.topics;
    const args = ['consume', '-brokers', bootstrap, '-topic', topics.join(','), '-group'];
    args.push(options.group, '-timeout-ms', String(options.timeoutMs ?? 120_000));
    if (options.max !== undefined) args.push('-max', String(options.max));
    if (options.from) args.push('-from', options.from);
    if (options.clientId) args.push('-client-id', options.clientId);
    const member = new SaramaGroupMember(spawn(binary, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
    running.add(member);
    return member;
  }

  private onLine(line: string): void {
    const event = JSON.parse(line) as JsonRecord & {
      member: string;
      generation: number;
      claims: Record<string, number[]>;
      count: number;
      timedOut: boolean;
    };
    switch (event.type) {
      case 'record':
        this.records.push(toConsumed(event));
        break;
      case 'assigned':
        this.current = {
          member: event.member,
          generation: event.generation,
          claims: event.claims ?? {},
        };
        this.sessions.push(this.current);
        break;
      case 'released':
        this.current = null;
        break;
      case 'done':
        this.done = { count: event.count, timedOut: event.timedOut };
        break;
      default:
        throw new Error(`unexpected line from sarama consume: ${line}`);
    }
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** Resolves once the condition holds (checked on every line and every 50 ms); rejects on exit or timeout. */
  waitFor(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (condition()) finish();
        else if (!this.running) finish(new Error(`sarama member exited before ${what}`));
      };
      const finish = (error?: Error) => {
        clearTimeout(timer);
        clearInterval(poll);
        this.listeners.delete(check);
        if (error) reject(new Error(`${error.message}:\n${this.stderr.slice(-4000)}`));
        else resolve();
      };
      const timer = setTimeout(() => finish(new Error(`timed out waiting for ${what}`)), timeoutMs);
      // Also polled: a condition may depend on other members' lines.
      const poll = setInterval(check, 50);
      this.listeners.add(check);
      check();
    });
  }

  /** Waits for the member to exit on its own (max records or its timeout). */
  async exit(timeoutMs = 120_000): Promise<{ count: number; timedOut: boolean }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        reject(new Error(`sarama member did not exit in time:\n${this.stderr.slice(-4000)}`));
      }, timeoutMs);
    });
    try {
      await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
    if (this.exitCode !== 0 || !this.done) {
      throw new Error(`sarama member exited with ${this.exitCode}:\n${this.stderr.slice(-4000)}`);
    }
    return this.done;
  }

  /** Closes stdin: the member ends its session, commits, leaves the group and exits. */
  async stop(timeoutMs = 60_000): Promise<{ count: number; timedOut: boolean }> {
    this.child.stdin!.end();
    return this.exit(timeoutMs);
  }

  /** SIGKILL, no commit, no LeaveGroup. */
  kill(): void {
    if (this.running) this.child.kill('SIGKILL');
  }
}

/** Kills every member still running (for afterAll). */
export function killSaramaMembers(): void {
  for (const member of running) member.kill();
}

/**
 * Waits until the members hold one generation together, their claims on the topic disjoint and
 * covering every partition: the group is stable and everything produced from now on is read by
 * exactly the member that owns its partition.
 */
export async function waitForStableGroup(
  members: SaramaGroupMember[],
  topic: string,
  partitions: number,
  timeoutMs = 60_000,
): Promise<GroupSession[]> {
  const stable = () => {
    const sessions = members.map((m) => m.current);
    if (sessions.some((s) => s === null)) return false;
    if (new Set(sessions.map((s) => s!.generation)).size !== 1) return false;
    const owned = sessions.flatMap((s) => s!.claims[topic] ?? []).sort((a, b) => a - b);
    return owned.length === partitions && owned.every((p, i) => p === i);
  };
  await Promise.all(members.map((m) => m.waitFor(stable, timeoutMs, 'a stable group assignment')));
  return members.map((m) => m.current!);
}

/** Sarama's default (hash) partitioner: FNV-1a 32 of the key, as int32, modulo, absolute. */
export function saramaHashPartition(key: Buffer, partitions: number): number {
  let h = 0x811c9dc5;
  for (const b of key) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return Math.abs((h | 0) % partitions);
}
