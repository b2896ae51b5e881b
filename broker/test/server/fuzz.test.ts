import net from 'node:net';
import fc from 'fast-check';
import { KafkaServer } from '../../src/server/kafka-server.js';
import { HandlerRegistry } from '../../src/server/handler-registry.js';
import { apiVersionsHandler } from '../../src/handlers/api-versions.js';
import type { AnyHandler } from '../../src/handlers/handler.js';
import { silentLogger } from '../../src/logger.js';
import { decode, encode, type MessageCodec } from '../../src/protocol/codec/message-codec.js';
import { ProtocolDecodeError } from '../../src/protocol/codec/errors.js';
import { Reader } from '../../src/protocol/codec/reader.js';
import * as generated from '../../src/protocol/generated/index.js';
import { API_DEFINITIONS, RequestHeaderCodec } from '../../src/protocol/generated/index.js';
import { freePort } from '../support/free-port.js';
import {
  decodeResponse,
  encodeRequest,
  requestHeaderVersion,
  responseHeaderVersion,
} from '../support/wire-client.js';

const MAX_REQUEST_BYTES = 64 * 1024;
/** A fixed amount of work, not a time budget: the count must not depend on machine load. */
const FRAMES = 30_000;
const WORKERS = 48;

/** Small, fast, seedable PRNG (mulberry32): a failing run can be replayed from its seed. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const pick = <T>(items: readonly T[]): T => items[int(0, items.length - 1)];
  const bytes = (n: number) => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = int(0, 255);
    return b;
  };
  const str = (max = 12) => {
    const alphabet = 'abcxyz-._0189ÄΩ€😀';
    let s = '';
    for (let i = int(0, max); i > 0; i--) s += pick([...alphabet]);
    return s;
  };
  const uuid = () => {
    const h = bytes(16).toString('hex');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  };
  const list = <T>(max: number, item: () => T) => Array.from({ length: int(0, max) }, item);
  return { next, int, pick, bytes, str, uuid, list };
}
type Rng = ReturnType<typeof prng>;

/** Random valid request bodies for the APIs the fuzz server serves. */
const BODIES: Record<number, (g: Rng) => unknown> = {
  0: (g) => ({
    transactionalId: g.next() < 0.5 ? null : g.str(),
    acks: g.pick([-1, 0, 1]),
    timeoutMs: g.int(0, 30000),
    topicData: g.list(3, () => ({
      name: g.str(),
      partitionData: g.list(3, () => ({
        index: g.int(0, 100),
        records: g.next() < 0.1 ? null : g.bytes(g.int(0, 200)),
      })),
    })),
  }),
  1: (g) => ({
    maxWaitMs: g.int(0, 500),
    minBytes: g.int(0, 1000),
    maxBytes: g.int(0, 2 ** 31 - 1),
    isolationLevel: g.int(0, 1),
    sessionId: g.int(0, 1000),
    sessionEpoch: g.int(-1, 1000),
    topics: g.list(3, () => ({
      topic: g.str(),
      topicId: g.uuid(),
      partitions: g.list(3, () => ({
        partition: g.int(0, 100),
        currentLeaderEpoch: g.int(-1, 10),
        fetchOffset: g.int(0, 2 ** 40),
        logStartOffset: -1,
        partitionMaxBytes: g.int(0, 2 ** 20),
      })),
    })),
    forgottenTopicsData: [],
    rackId: g.str(),
  }),
  2: (g) => ({
    replicaId: -1,
    isolationLevel: g.int(0, 1),
    topics: g.list(3, () => ({
      name: g.str(),
      partitions: g.list(3, () => ({
        partitionIndex: g.int(0, 50),
        currentLeaderEpoch: g.int(-1, 5),
        timestamp: g.pick([-1, -2, g.int(0, 2 ** 41)]),
      })),
    })),
  }),
  3: (g) => ({
    topics: g.next() < 0.3 ? null : g.list(4, () => ({ name: g.str(), topicId: g.uuid() })),
    allowAutoTopicCreation: g.next() < 0.5,
    includeTopicAuthorizedOperations: g.next() < 0.5,
  }),
  10: (g) => ({ key: g.str(), keyType: g.int(0, 1), coordinatorKeys: g.list(3, () => g.str()) }),
  12: (g) => ({
    groupId: g.str(),
    generationId: g.int(-1, 100),
    memberId: g.str(),
    groupInstanceId: g.next() < 0.5 ? null : g.str(),
  }),
  18: (g) => ({ clientSoftwareName: g.str(), clientSoftwareVersion: g.str() }),
};

const defs = new Map(API_DEFINITIONS.map((d) => [d.apiKey, d]));

/** The generated all-defaults value of a message (every required field filled in). */
function defaults(codec: MessageCodec<unknown>): unknown {
  const make = (generated as unknown as Record<string, () => unknown>)[`default${codec.name}`];
  return make();
}

function validRequest(g: Rng, correlationId: number): Buffer {
  const apiKey = g.pick(Object.keys(BODIES).map(Number));
  const d = defs.get(apiKey)!;
  const version = g.int(d.minVersion, d.maxVersion);
  const clientId = g.next() < 0.1 ? null : g.str(20);
  try {
    return encodeRequest({ apiKey, version, correlationId, clientId, body: BODIES[apiKey](g) });
  } catch {
    // A value this version cannot carry: fall back to the defaults.
    return encodeRequest({ apiKey, version, correlationId, clientId, body: defaults(d.request) });
  }
}

/** A mutated or random frame. */
function fuzzFrame(g: Rng, correlationId: number): Buffer {
  const kind = g.next();
  if (kind < 0.1) {
    // Entirely random bytes, with a plausible size prefix half of the time.
    const body = g.bytes(g.int(0, 120));
    if (g.next() < 0.5) return body;
    const b = Buffer.alloc(4 + body.length);
    b.writeInt32BE(body.length, 0);
    body.copy(b, 4);
    return b;
  }
  let frame = validRequest(g, correlationId);
  if (kind < 0.25) return frame;
  const mutations = g.int(1, 4);
  for (let m = 0; m < mutations; m++) {
    const at = g.int(0, Math.max(0, frame.length - 1));
    switch (g.int(0, 7)) {
      case 0: // flip a bit
        frame = Buffer.from(frame);
        frame[at] ^= 1 << g.int(0, 7);
        break;
      case 1: // overwrite a byte with an interesting value
        frame = Buffer.from(frame);
        frame[at] = g.pick([0, 1, 0x7f, 0x80, 0xff, g.int(0, 255)]);
        break;
      case 2: // insert bytes
        frame = Buffer.concat([frame.subarray(0, at), g.bytes(g.int(1, 8)), frame.subarray(at)]);
        break;
      case 3: // delete bytes
        frame = Buffer.concat([frame.subarray(0, at), frame.subarray(at + g.int(1, 8))]);
        break;
      case 4: // truncate
        frame = frame.subarray(0, at);
        break;
      case 5: // random api key and version
        if (frame.length >= 8) {
          frame = Buffer.from(frame);
          frame.writeInt16BE(
            g.pick([g.int(-32768, 32767), g.int(0, 70), g.pick(API_DEFINITIONS).apiKey]),
            4,
          );
          frame.writeInt16BE(g.pick([g.int(-32768, 32767), g.int(-1, 20)]), 6);
        }
        break;
      case 6: // random size prefix
        if (frame.length >= 4) {
          frame = Buffer.from(frame);
          frame.writeInt32BE(
            g.pick([
              g.int(-(2 ** 31), 2 ** 31 - 1),
              g.int(0, 64),
              g.int(0, MAX_REQUEST_BYTES + 10),
            ]),
            0,
          );
        }
        break;
      case 7: // random api version only
        if (frame.length >= 8) {
          frame = Buffer.from(frame);
          frame.writeInt16BE(g.int(-2, 20), 6);
        }
        break;
    }
  }
  // Mostly keep the size prefix honest so mutations reach the decoders, not just framing.
  if (frame.length >= 4 && g.next() < 0.7) {
    frame = Buffer.from(frame);
    frame.writeInt32BE(frame.length - 4, 0);
  }
  return frame;
}

interface Expected {
  correlationId: number;
  apiKey: number;
  version: number;
  headerVersion: number;
}

/**
 * What the server must do with a byte stream, from the framing rules: answer the leading
 * well-formed requests in order, then close on the first bad frame or keep waiting for the rest
 * of an incomplete one.
 */
function expectedOutcome(
  stream: Buffer,
  registry: HandlerRegistry,
): { answers: Expected[]; then: 'close' | 'wait' } {
  const answers: Expected[] = [];
  let off = 0;
  while (stream.length - off >= 4) {
    const size = stream.readInt32BE(off);
    if (size < 8 || size > MAX_REQUEST_BYTES) return { answers, then: 'close' };
    if (stream.length - off < 4 + size) return { answers, then: 'wait' };
    const frame = stream.subarray(off + 4, off + 4 + size);
    off += 4 + size;
    const apiKey = frame.readInt16BE(0);
    const version = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const api = registry.get(apiKey);
    if (apiKey === 18 && api && version > api.maxVersion) {
      answers.push({ correlationId, apiKey, version: 0, headerVersion: 0 });
      continue;
    }
    if (!api || version < api.minVersion || version > api.maxVersion) {
      return { answers, then: 'close' };
    }
    try {
      const r = new Reader(frame);
      RequestHeaderCodec.read(r, requestHeaderVersion(apiKey, version));
      api.definition.request.read(r, version);
    } catch {
      return { answers, then: 'close' };
    }
    answers.push({
      correlationId,
      apiKey,
      version,
      headerVersion: responseHeaderVersion(apiKey, version),
    });
  }
  return { answers, then: 'wait' };
}

type Outcome = 'answered' | 'answered-then-closed' | 'closed' | 'waiting';

/** Sends one stream on a fresh connection and checks what comes back against expectedOutcome. */
function exchange(
  port: number,
  stream: Buffer,
  g: Rng,
  registry: HandlerRegistry,
): Promise<Outcome> {
  const expected = expectedOutcome(stream, registry);
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setNoDelay(true);
    let pending = Buffer.alloc(0);
    let answered = 0;
    let closed = false;
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(new Error(`${why}; stream ${stream.toString('hex')}`));
    };
    const done = (outcome: Outcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const timer = setTimeout(
      () => fail(`no outcome after 5 s (${answered}/${expected.answers.length} answered)`),
      5000,
    );
    const check = () => {
      if (expected.then === 'wait' && answered === expected.answers.length) {
        // Everything complete was answered and the server is waiting for more bytes.
        done(answered > 0 ? 'answered' : 'waiting');
      } else if (closed) {
        if (pending.length > 0) return fail(`closed inside a response frame`);
        if (expected.then === 'wait')
          return fail(`closed after ${answered} answers, expected to wait`);
        done(answered > 0 ? 'answered-then-closed' : 'closed');
      }
    };
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = pending.subarray(4, 4 + pending.readInt32BE(0));
        pending = pending.subarray(4 + frame.length);
        const want = expected.answers[answered++];
        if (!want) return fail(`unexpected response ${answered}`);
        try {
          const got = decodeResponse(frame, want.apiKey, want.version, want.headerVersion);
          if (got.correlationId !== want.correlationId) {
            return fail(`correlation id ${got.correlationId}, expected ${want.correlationId}`);
          }
        } catch (err) {
          return fail(`malformed response: ${(err as Error).message}`);
        }
      }
      check();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      closed = true;
      check();
    });
    socket.on('connect', async () => {
      if (g.next() < 0.1 && stream.length > 1) {
        // Split into a few writes to exercise reassembly.
        let at = 0;
        while (at < stream.length && !closed) {
          const n = g.int(1, 16);
          socket.write(stream.subarray(at, at + n));
          at += n;
          await new Promise((r) => setImmediate(r));
        }
      } else {
        socket.write(stream);
      }
      check();
    });
  });
}

/** Stub handlers answering with default responses; some answer asynchronously. */
function stub(apiKey: number, async: boolean): AnyHandler {
  const d = defs.get(apiKey)!;
  return {
    apiKey,
    minVersion: d.minVersion,
    maxVersion: d.maxVersion,
    handle: () => {
      const response = defaults(d.response);
      return async ? new Promise((resolve) => setImmediate(() => resolve(response))) : response;
    },
  };
}

describe('server fuzz', () => {
  let server: KafkaServer;
  let port: number;
  const registry = new HandlerRegistry();

  beforeAll(async () => {
    registry.register(apiVersionsHandler(registry));
    for (const key of [2, 3, 10, 12]) registry.register(stub(key, false));
    for (const key of [0, 1]) registry.register(stub(key, true));
    server = new KafkaServer({
      host: '127.0.0.1',
      port: await freePort(),
      registry,
      logger: silentLogger(),
      maxRequestBytes: MAX_REQUEST_BYTES,
    });
    port = await server.listen();
  });
  afterAll(async () => {
    await server.close(100);
  });

  test('the stub responses encode at every version (so every valid request is answerable)', () => {
    for (const api of registry.list()) {
      if (api.definition.apiKey === 18) continue;
      for (let v = api.minVersion; v <= api.maxVersion; v++) {
        expect(() =>
          encode(api.definition.response, defaults(api.definition.response), v),
        ).not.toThrow();
      }
    }
  });

  test(`mutated and random frames: the server answers well-formed or closes, never crashes`, async () => {
    const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
    const base = process.memoryUsage();
    let peakRss = base.rss;
    let peakHeap = base.heapUsed;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
    }, 100);
    const outcomes: Record<Outcome, number> = {
      answered: 0,
      'answered-then-closed': 0,
      closed: 0,
      waiting: 0,
    };
    let frames = 0;
    let connections = 0;
    let correlationId = 0;
    const started = Date.now();
    const worker = async (w: number) => {
      const g = prng(seed + w * 7919);
      while (frames < FRAMES) {
        const count = g.int(1, 3);
        const parts = Array.from({ length: count }, () => fuzzFrame(g, correlationId++));
        frames += count;
        connections++;
        outcomes[await exchange(port, Buffer.concat(parts), g, registry)]++;
      }
    };
    try {
      await Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)));
    } finally {
      clearInterval(sampler);
    }
    const elapsed = (Date.now() - started) / 1000;
    const mb = (n: number) => Math.round(n / 1024 / 1024);
    console.log(
      `fuzz seed ${seed}: ${frames} frames on ${connections} connections in ${elapsed.toFixed(1)} s; ` +
        `outcomes ${JSON.stringify(outcomes)}; ` +
        `rss ${mb(base.rss)} -> peak ${mb(peakRss)} MiB, heapUsed ${mb(base.heapUsed)} -> peak ${mb(peakHeap)} MiB`,
    );
    expect(frames).toBeGreaterThanOrEqual(FRAMES);
    // Every kind of outcome was exercised.
    for (const n of Object.values(outcomes)) expect(n).toBeGreaterThan(0);
    expect(peakRss - base.rss).toBeLessThan(512 * 1024 * 1024);
    expect(peakHeap - base.heapUsed).toBeLessThan(256 * 1024 * 1024);
    // No connection is left behind, and the server still answers.
    for (let i = 0; i < 200 && server.connectionCount > 0; i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(server.connectionCount).toBe(0);
    const g = prng(1);
    expect(await exchange(port, validRequest(g, 1), g, registry)).toBe('answered');
  }, 180_000);
});

describe('decoder fuzz', () => {
  const codecs = Object.entries(generated)
    .filter(([name, v]) => name.endsWith('Codec') && typeof v === 'object')
    .map(([, v]) => v as MessageCodec<unknown>);

  /** Decoding succeeds or throws ProtocolDecodeError, quickly. */
  const decodeOnly = (codec: MessageCodec<unknown>, bytes: Buffer, v: number) => {
    const t0 = performance.now();
    try {
      decode(codec, bytes, v);
    } catch (err) {
      if (!(err instanceof ProtocolDecodeError)) {
        throw new Error(
          `${codec.name} v${v} threw ${(err as Error)?.name}: ${(err as Error)?.message} on ${bytes.toString('hex')}`,
        );
      }
    }
    expect(performance.now() - t0).toBeLessThan(250);
  };

  const mutation = fc.record({
    op: fc.integer({ min: 0, max: 4 }),
    pos: fc.nat(),
    val: fc.integer({ min: 0, max: 255 }),
    len: fc.integer({ min: 1, max: 8 }),
  });
  const mutate = (seed: Buffer, ms: { op: number; pos: number; val: number; len: number }[]) => {
    let b = Buffer.from(seed);
    for (const m of ms) {
      const at = b.length === 0 ? 0 : m.pos % b.length;
      if (m.op === 0 && b.length) b[at] ^= 1 << (m.val % 8);
      else if (m.op === 1 && b.length) b[at] = m.val;
      else if (m.op === 2)
        b = Buffer.concat([b.subarray(0, at), Buffer.alloc(m.len, m.val), b.subarray(at)]);
      else if (m.op === 3) b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
      else b = b.subarray(0, at);
    }
    return b;
  };

  test('there are codecs for every API plus headers and the consumer protocol', () => {
    expect(codecs.length).toBe(API_DEFINITIONS.length * 2 + 4);
  });

  test('every codec, every version: random bytes decode or throw ProtocolDecodeError', () => {
    let runs = 0;
    for (const codec of codecs) {
      for (let v = codec.minVersion; v <= codec.maxVersion; v++) {
        fc.assert(
          fc.property(fc.uint8Array({ maxLength: 160 }), (bytes) => {
            runs++;
            decodeOnly(codec, Buffer.from(bytes), v);
          }),
          { numRuns: 150 },
        );
      }
    }
    console.log(`decoder fuzz (random bytes): ${runs} decodes over ${codecs.length} codecs`);
  });

  test('every codec, every version: mutated valid encodings decode or throw ProtocolDecodeError', () => {
    let runs = 0;
    const g = prng(42);
    for (const codec of codecs) {
      for (let v = codec.minVersion; v <= codec.maxVersion; v++) {
        const seeds = [encode(codec, defaults(codec), v)];
        const body =
          codec.apiKey >= 0 && codec.name.endsWith('Request') ? BODIES[codec.apiKey] : undefined;
        if (body) {
          for (let i = 0; i < 8; i++) {
            try {
              seeds.push(encode(codec, body(g), v));
            } catch {
              // a value this version cannot carry
            }
          }
        }
        fc.assert(
          fc.property(
            fc.constantFrom(...seeds),
            fc.array(mutation, { minLength: 1, maxLength: 4 }),
            (seed, ms) => {
              runs++;
              decodeOnly(codec, mutate(seed, ms), v);
            },
          ),
          { numRuns: 150 },
        );
      }
    }
    console.log(`decoder fuzz (mutated encodings): ${runs} decodes over ${codecs.length} codecs`);
  });
});
