/**
 * Captures real request frames from real Kafka clients for the golden-bytes tests:
 *
 *   npx tsx broker/scripts/capture-golden.ts [outDir]
 *
 * Starts a KafkaServer that answers ApiVersions (advertising Metadata too, so clients go on to
 * send it) behind a recording TCP proxy, points kcat, kafkajs and @platformatic/kafka at the
 * proxy, and writes every request frame (size prefix included) as
 * `<client>-<api>-v<version>[-<n>].hex`. Metadata requests are never answered: the clients time
 * out, with short timeouts.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { Admin } from '@platformatic/kafka';
import { KafkaServer } from '../src/server/kafka-server.js';
import { HandlerRegistry } from '../src/server/handler-registry.js';
import { apiVersionsHandler } from '../src/handlers/api-versions.js';
import { silentLogger } from '../src/logger.js';
import { API_DEFINITIONS } from '../src/protocol/generated/index.js';

export const GOLDEN_TOPICS = ['golden-a', 'golden-b'];

interface Captured {
  client: string;
  frame: Buffer;
}

const kebab = (name: string) => name.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase();

/** A TCP proxy that splits the client-to-server stream into frames and records them. */
async function recordingProxy(upstreamPort: number, label: () => string, out: Captured[]) {
  const proxy = net.createServer((client) => {
    const client_ = label();
    const upstream = net.connect({ host: '127.0.0.1', port: upstreamPort });
    let pending = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const size = 4 + pending.readInt32BE(0);
        out.push({ client: client_, frame: Buffer.from(pending.subarray(0, size)) });
        pending = pending.subarray(size);
      }
      upstream.write(chunk);
    });
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const address = proxy.address() as net.AddressInfo;
  return { proxy, port: address.port };
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    child.on('error', () => {
      clearTimeout(timer);
      resolve(null);
    });
  });
}

const started = Date.now();
const log = (what: string) =>
  console.error(`${((Date.now() - started) / 1000).toFixed(1)} s: ${what}`);

export async function captureGolden(outDir: string): Promise<string[]> {
  const registry = new HandlerRegistry();
  registry.register(apiVersionsHandler(registry));
  // Advertised so clients send Metadata; never answered.
  registry.register({
    apiKey: 3,
    minVersion: 0,
    maxVersion: 12,
    handle: () => new Promise(() => undefined),
  });
  const server = new KafkaServer({
    host: '127.0.0.1',
    port: 0,
    registry,
    logger: silentLogger(),
    maxRequestBytes: 1024 * 1024,
  });
  const upstreamPort = await server.listen();
  const captured: Captured[] = [];
  let current = 'none';
  const { proxy, port } = await recordingProxy(upstreamPort, () => current, captured);
  const broker = `127.0.0.1:${port}`;

  try {
    current = 'kcat';
    await run('/usr/bin/kcat', ['-L', '-b', broker, '-t', GOLDEN_TOPICS[0], '-m', '2'], 10_000);

    log('kcat done');
    current = 'kafkajs';
    const kafka = new kafkajs.Kafka({
      clientId: 'golden-kafkajs',
      brokers: [broker],
      requestTimeout: 1000,
      connectionTimeout: 1000,
      retry: { retries: 0 },
      logLevel: kafkajs.logLevel.NOTHING,
    });
    const admin = kafka.admin();
    await admin.connect();
    await admin.fetchTopicMetadata({ topics: GOLDEN_TOPICS }).catch(() => undefined);
    await admin.disconnect();

    log('kafkajs done');
    current = 'platformatic';
    const platformatic = new Admin({
      clientId: 'golden-platformatic',
      bootstrapBrokers: [broker],
      timeout: 1000,
      connectTimeout: 1000,
      requestTimeout: 1000,
      retries: 0,
    });
    await platformatic.metadata({ topics: GOLDEN_TOPICS }).catch(() => undefined);
    await platformatic.close().catch(() => undefined);
    log('platformatic done');
  } finally {
    proxy.close();
    await server.close(0);
  }

  fs.mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  const seen = new Map<string, number>();
  const contents = new Set<string>();
  for (const { client, frame } of captured) {
    // Retries differ only in their correlation id: keep the first of each.
    const content = `${client}:${frame.subarray(4, 8).toString('hex')}:${frame.subarray(12).toString('hex')}`;
    if (contents.has(content)) continue;
    contents.add(content);
    const apiKey = frame.readInt16BE(4);
    const version = frame.readInt16BE(6);
    const api = API_DEFINITIONS.find((d) => d.apiKey === apiKey);
    const base = `${client}-${kebab(api?.name ?? `api${apiKey}`)}-v${version}`;
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    const file = `${base}${n > 1 ? `-${n}` : ''}.hex`;
    fs.writeFileSync(path.join(outDir, file), frame.toString('hex') + '\n');
    written.push(file);
  }
  return written;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const outDir =
    process.argv[2] ??
    path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../test/protocol/golden');
  const files = await captureGolden(outDir);
  console.log(`captured ${files.length} frames into ${outDir}:\n  ${files.join('\n  ')}`);
  process.exit(0);
}
