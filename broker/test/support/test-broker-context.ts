// A real BrokerContext without the network: embedded metadata store and local object store in
// temp directories, so handlers can be called directly with decoded requests.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import type { BrokerContext } from '../../src/broker-context.js';
import { loadConfig, type BrokerConfig } from '../../src/config.js';
import type { AnyHandler, RequestContext } from '../../src/handlers/handler.js';
import { createBrokerContext, stopBrokerContext } from '../../src/broker.js';
import { EmbeddedMetadataStore } from '../../src/metadata/embedded-metadata-store.js';
import { decode, encode } from '../../src/protocol/codec/message-codec.js';
import { API_DEFINITIONS } from '../../src/protocol/generated/index.js';
import { validateProducedRecords } from '../../src/protocol/records/produce-rules.js';
import { buildRecordBatch } from '../../src/protocol/records/record-batch-builder.js';
import { LocalObjectStore } from '../../src/storage/local-object-store.js';
import type { SegmentCache } from '../../src/storage/segment-cache.js';

export interface TestBrokerContext extends BrokerContext {
  objects: LocalObjectStore;
  store: EmbeddedMetadataStore;
  cache: SegmentCache;
  /** Every log entry written so far (the logger writes nowhere else). */
  logged: LogEntry[];
  /** Flushes the logs and closes the stores; removes the temp directories. */
  close(): Promise<void>;
}

export interface LogEntry {
  level: string;
  message: string;
  [meta: string]: unknown;
}

/** A logger that keeps its entries in memory, so tests can assert on what was logged. */
function memoryLogger(entries: LogEntry[]): winston.Logger {
  const stream = new Writable({
    objectMode: true,
    write(info: LogEntry, _encoding, done) {
      entries.push(info);
      done();
    },
  });
  return winston.createLogger({
    level: 'debug',
    transports: [new winston.transports.Stream({ stream })],
  });
}

export interface TestBrokerOptions {
  /** KAFSCALE_* variables, as the broker would read them. */
  env?: Record<string, string>;
  /** Applied after the environment (for settings tests want to flip directly). */
  config?: Partial<BrokerConfig>;
}

export async function createTestBrokerContext(
  options: TestBrokerOptions = {},
): Promise<TestBrokerContext> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'kfs-broker-'));
  const config: BrokerConfig = {
    ...loadConfig({ KAFSCALE_FLUSH_INTERVAL_MS: '1', ...options.env }),
    dataDir: path.join(dir, 'data'),
    ...options.config,
  };
  const logged: LogEntry[] = [];
  const logger = memoryLogger(logged);
  const store = await EmbeddedMetadataStore.open(path.join(dir, 'metadata'));
  const objects = new LocalObjectStore(path.join(dir, 'objects'));
  const context = await createBrokerContext(config, store, objects, logger, config.listenPort);
  return {
    ...context,
    clusterId: 'test-cluster-id',
    objects,
    store,
    logged,
    cache: context.logs.cache,
    async close() {
      await stopBrokerContext(context);
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function requestContext(apiKey: number, apiVersion: number): RequestContext {
  return {
    header: {
      requestApiKey: apiKey,
      requestApiVersion: apiVersion,
      correlationId: 1,
      clientId: 'test',
    },
    apiVersion,
    clientId: 'test',
    peer: '127.0.0.1:0',
    connection: {},
  };
}

/**
 * Calls a handler as the server would at one version: the request is encoded and decoded at that
 * version (so fields the version lacks take their defaults), and the response must encode at it;
 * what comes back is the response as the client decodes it.
 */
export async function callAtVersion<Res>(
  handler: AnyHandler,
  version: number,
  request: unknown,
): Promise<Res> {
  const api = API_DEFINITIONS.find((d) => d.apiKey === handler.apiKey);
  if (!api) throw new Error(`no codec for api key ${handler.apiKey}`);
  if (version < handler.minVersion || version > handler.maxVersion) {
    throw new Error(`${api.name} v${version} is not served by the handler`);
  }
  const decoded: unknown = decode(api.request, encode(api.request, request, version), version);
  const response: unknown = await handler.handle(decoded, requestContext(api.apiKey, version));
  return decode(api.response, encode(api.response, response, version), version) as Res;
}

/** Appends one batch of `count` records to a partition and waits until it is committed. */
export async function appendRecords(
  broker: BrokerContext,
  topic: string,
  partition: number,
  count: number,
): Promise<{ baseOffset: number }> {
  const records = Array.from({ length: count }, (_, i) => ({
    key: null,
    value: Buffer.from(`record-${i}`),
  }));
  const batch = validateProducedRecords(buildRecordBatch(records), 9);
  const log = await broker.logs.get(topic, partition);
  const { baseOffset, durable } = log.append(batch);
  await durable;
  return { baseOffset };
}
