import { KafkaServer } from '../../src/server/kafka-server.js';
import { HandlerRegistry } from '../../src/server/handler-registry.js';
import { apiVersionsHandler } from '../../src/handlers/api-versions.js';
import { silentLogger } from '../../src/logger.js';
import { decode } from '../../src/protocol/codec/message-codec.js';
import { Writer } from '../../src/protocol/codec/writer.js';
import {
  ApiVersionsResponseCodec,
  ResponseHeaderCodec,
  type ApiVersionsResponse,
} from '../../src/protocol/generated/index.js';
import { Reader } from '../../src/protocol/codec/reader.js';
import { freePort } from '../support/free-port.js';
import { WireClient, encodeRequest, decodeResponse } from '../support/wire-client.js';

const API_VERSIONS = 18;
const METADATA = 3;
const UNSUPPORTED_VERSION = 35;
const MAX_REQUEST_BYTES = 1024 * 1024;
const EXPECTED_APIS = [{ apiKey: API_VERSIONS, minVersion: 0, maxVersion: 4 }];

async function startServer(maxRequestBytes = MAX_REQUEST_BYTES) {
  const registry = new HandlerRegistry();
  registry.register(apiVersionsHandler(registry));
  const server = new KafkaServer({
    host: '127.0.0.1',
    port: await freePort(),
    registry,
    logger: silentLogger(),
    maxRequestBytes,
  });
  const port = await server.listen();
  return { server, port };
}

/** A request frame with a v1 header and an arbitrary body, for api keys/versions we have no codec for. */
function rawFrame(apiKey: number, version: number, correlationId: number, body = Buffer.alloc(0)) {
  const clientId = 'raw';
  const w = Writer.alloc(4 + 8 + 2 + clientId.length + body.length);
  w.int32(8 + 2 + clientId.length + body.length);
  w.int16(apiKey);
  w.int16(version);
  w.int32(correlationId);
  w.string(clientId);
  w.raw(body);
  return w.buf;
}

const apiVersionsBody = (version: number) =>
  version >= 3 ? { clientSoftwareName: 'kafscale-test', clientSoftwareVersion: '1.0' } : {};

async function expectApiVersionsWorks(client: WireClient, correlationId?: number) {
  const res = await client.request<ApiVersionsResponse>(API_VERSIONS, 3, apiVersionsBody(3), {
    correlationId,
  });
  expect(res.body.errorCode).toBe(0);
  expect(res.body.apiKeys).toEqual(EXPECTED_APIS);
}

describe('Connection against a server with ApiVersions only', () => {
  let server: KafkaServer;
  let port: number;
  const clients: WireClient[] = [];
  const connect = async () => {
    const c = await WireClient.connect(port);
    clients.push(c);
    return c;
  };

  beforeAll(async () => {
    ({ server, port } = await startServer());
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
  });
  afterAll(async () => {
    await server.close(100);
  });

  test('ApiVersions at every version 0-4 returns the registry list', async () => {
    const client = await connect();
    for (let v = 0; v <= 4; v++) {
      const res = await client.request<ApiVersionsResponse>(API_VERSIONS, v, apiVersionsBody(v), {
        correlationId: 1000 + v,
      });
      expect(res.correlationId).toBe(1000 + v);
      expect(res.body.errorCode).toBe(0);
      expect(res.body.apiKeys).toEqual(EXPECTED_APIS);
      if (v >= 1) expect(res.body.throttleTimeMs).toBe(0);
    }
  });

  test('ApiVersions at version 99 gets the KIP-511 v0 error response with header v0', async () => {
    const client = await connect();
    // A v99 request carries whatever body; the broker cannot parse it and must not try.
    await client.sendRaw(rawFrame(API_VERSIONS, 99, 4242, Buffer.from([0xde, 0xad, 0xbe, 0xef])));
    const frame = await client.nextFrame();
    const r = new Reader(frame);
    expect(ResponseHeaderCodec.read(r, 0).correlationId).toBe(4242);
    // Exactly a v0 body after a 4-byte header: a v1 header or a newer body would not decode.
    const body = decode(ApiVersionsResponseCodec, frame.subarray(4), 0);
    expect(body.errorCode).toBe(UNSUPPORTED_VERSION);
    expect(body.apiKeys).toEqual(EXPECTED_APIS);
    // The connection stays usable: the client downgrades and retries.
    await expectApiVersionsWorks(client);
    expect(client.isOpen).toBe(true);
  });

  test('50 pipelined requests are answered in order', async () => {
    const client = await connect();
    const ids = Array.from({ length: 50 }, (_, i) => (i * 7919 + 13) % 100003);
    const frames = ids.map((correlationId, i) =>
      encodeRequest({
        apiKey: API_VERSIONS,
        version: i % 5,
        correlationId,
        body: apiVersionsBody(i % 5),
      }),
    );
    const responses = ids.map(() => client.nextFrame());
    await client.sendRaw(Buffer.concat(frames));
    const got = await Promise.all(responses);
    const decoded = got.map((f, i) => decodeResponse<ApiVersionsResponse>(f, API_VERSIONS, i % 5));
    expect(decoded.map((d) => d.correlationId)).toEqual(ids);
    for (const d of decoded) expect(d.body.apiKeys).toEqual(EXPECTED_APIS);
  });

  test('a frame claiming 2 GiB is closed without allocating it', async () => {
    global.gc?.();
    const before = process.memoryUsage();
    const victims = await Promise.all(Array.from({ length: 20 }, () => connect()));
    for (const c of victims) {
      const claim = Buffer.alloc(4 + 64);
      claim.writeUInt32BE(0x7fffffff, 0); // 2 GiB - 1, the largest size an int32 prefix can claim
      claim.writeInt16BE(API_VERSIONS, 4);
      await c.sendRaw(claim);
    }
    const closed = await Promise.all(victims.map((c) => c.closedWithin(2000)));
    expect(closed.every(Boolean)).toBe(true);
    const after = process.memoryUsage();
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(64 * 1024 * 1024);
    expect(after.rss - before.rss).toBeLessThan(128 * 1024 * 1024);
    // The server is unaffected.
    await expectApiVersionsWorks(await connect());
  });

  test('a negative size (0x80000000, "2 GiB" read unsigned) is closed', async () => {
    const client = await connect();
    const claim = Buffer.alloc(16);
    claim.writeUInt32BE(0x80000000, 0);
    await client.sendRaw(claim);
    expect(await client.closedWithin(2000)).toBe(true);
  });

  test('a frame over maxRequestBytes closes the connection', async () => {
    const client = await connect();
    const claim = Buffer.alloc(4 + 8);
    claim.writeInt32BE(MAX_REQUEST_BYTES + 1, 0);
    claim.writeInt16BE(API_VERSIONS, 4);
    await client.sendRaw(claim);
    expect(await client.closedWithin(2000)).toBe(true);
  });

  test('an unknown api key closes the connection', async () => {
    const unknown = await connect();
    await unknown.sendRaw(rawFrame(1000, 0, 1));
    expect(await unknown.closedWithin(2000)).toBe(true);
    // A real api that this server does not serve is just as unknown.
    const unserved = await connect();
    await unserved.sendRaw(
      encodeRequest({ apiKey: METADATA, version: 1, correlationId: 2, body: { topics: null } }),
    );
    expect(await unserved.closedWithin(2000)).toBe(true);
    const negativeVersion = await connect();
    await negativeVersion.sendRaw(rawFrame(API_VERSIONS, -1, 3));
    expect(await negativeVersion.closedWithin(2000)).toBe(true);
  });

  test('truncated or garbage bodies close the connection', async () => {
    // A v3 request whose compact string claims 50 bytes but carries 3.
    const truncated = await connect();
    const valid = encodeRequest({
      apiKey: API_VERSIONS,
      version: 3,
      correlationId: 5,
      body: apiVersionsBody(3),
    });
    const header = valid.subarray(4, 4 + 8 + 2 + 'wire-client'.length + 1); // header v2 incl. tag count
    const body = Buffer.from([51, 0x61, 0x62, 0x63]);
    const frame = Buffer.concat([Buffer.alloc(4), header, body]);
    frame.writeInt32BE(frame.length - 4, 0);
    await truncated.sendRaw(frame);
    expect(await truncated.closedWithin(2000)).toBe(true);

    // A header whose client id length runs past the frame.
    const garbage = await connect();
    const g = Buffer.alloc(4 + 8 + 2);
    g.writeInt32BE(10, 0);
    g.writeInt16BE(API_VERSIONS, 4);
    g.writeInt16BE(1, 6);
    g.writeInt32BE(9, 8);
    g.writeInt16BE(0x7000, 12);
    await garbage.sendRaw(g);
    expect(await garbage.closedWithin(2000)).toBe(true);

    // Too short to hold a request header at all.
    const tiny = await connect();
    await tiny.sendRaw(Buffer.from([0, 0, 0, 3, 0, 18, 0]));
    expect(await tiny.closedWithin(2000)).toBe(true);
  });

  test('a request split into 1-byte TCP writes works', async () => {
    const client = await connect();
    const bytes = Buffer.concat([
      encodeRequest({
        apiKey: API_VERSIONS,
        version: 3,
        correlationId: 77,
        body: apiVersionsBody(3),
      }),
      encodeRequest({ apiKey: API_VERSIONS, version: 0, correlationId: 78, body: {} }),
    ]);
    const first = client.nextFrame();
    const second = client.nextFrame();
    for (const byte of bytes) {
      await client.sendRaw(Buffer.from([byte]));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(decodeResponse(await first, API_VERSIONS, 3).correlationId).toBe(77);
    expect(decodeResponse(await second, API_VERSIONS, 0).correlationId).toBe(78);
  });

  test('several connections concurrently', async () => {
    const many = await Promise.all(Array.from({ length: 20 }, () => connect()));
    await Promise.all(
      many.map(async (client, c) => {
        const replies = Array.from({ length: 20 }, (_, i) =>
          client.request<ApiVersionsResponse>(
            API_VERSIONS,
            (c + i) % 5,
            apiVersionsBody((c + i) % 5),
            {
              correlationId: c * 1000 + i,
            },
          ),
        );
        const got = await Promise.all(replies);
        expect(got.map((r) => r.correlationId)).toEqual(replies.map((_, i) => c * 1000 + i));
        for (const r of got) expect(r.body.apiKeys).toEqual(EXPECTED_APIS);
      }),
    );
    expect(server.connectionCount).toBeGreaterThanOrEqual(20);
  });
});

describe('Connection framing limits', () => {
  test('a frame of exactly maxRequestBytes is served and one byte more is refused', async () => {
    const max = 64;
    const { server, port } = await startServer(max);
    try {
      // 8 bytes of fixed header, 2 of client id length: the client id fills the rest.
      const fits = await WireClient.connect(port);
      const clientId = 'x'.repeat(max - 10);
      const ok = await fits.request(API_VERSIONS, 0, {}, { clientId, correlationId: 9 });
      expect(ok.correlationId).toBe(9);
      await fits.close();

      const over = await WireClient.connect(port);
      await over.sendRaw(
        encodeRequest({
          apiKey: API_VERSIONS,
          version: 0,
          correlationId: 10,
          clientId: clientId + 'x',
          body: {},
        }),
      );
      expect(await over.closedWithin(2000)).toBe(true);
    } finally {
      await server.close(100);
    }
  });

  test('a 2 GiB claim within maxRequestBytes is buffered as it arrives, never allocated up front', async () => {
    const { server, port } = await startServer(0x7fffffff);
    try {
      const before = process.memoryUsage();
      const clients = await Promise.all(Array.from({ length: 10 }, () => WireClient.connect(port)));
      for (const c of clients) {
        const claim = Buffer.alloc(4 + 4096);
        claim.writeInt32BE(0x7fffffff, 0);
        claim.writeInt16BE(API_VERSIONS, 4);
        await c.sendRaw(claim);
      }
      // The server keeps waiting for the rest of the frame; it must not have reserved it.
      expect(await clients[0].closedWithin(300)).toBe(false);
      const after = process.memoryUsage();
      expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(64 * 1024 * 1024);
      expect(after.rss - before.rss).toBeLessThan(128 * 1024 * 1024);
      expect(server.connectionCount).toBe(10);
      await Promise.all(clients.map((c) => c.close()));
      for (let i = 0; i < 100 && server.connectionCount > 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(server.connectionCount).toBe(0);
    } finally {
      await server.close(100);
    }
  });
});

describe('Connection backpressure', () => {
  test('no more than maxInFlightPerConnection requests are dispatched, even from one TCP chunk', async () => {
    const HEARTBEAT = 12;
    const waiting: ((response: unknown) => void)[] = [];
    const registry = new HandlerRegistry();
    registry.register(apiVersionsHandler(registry));
    registry.register({
      apiKey: HEARTBEAT,
      minVersion: 0,
      maxVersion: 4,
      handle: () => new Promise((resolve) => waiting.push(resolve)),
    });
    const server = new KafkaServer({
      host: '127.0.0.1',
      port: await freePort(),
      registry,
      logger: silentLogger(),
      maxRequestBytes: MAX_REQUEST_BYTES,
      maxInFlightPerConnection: 4,
    });
    const port = await server.listen();
    const client = await WireClient.connect(port);
    try {
      const body = { groupId: 'g', generationId: 1, memberId: 'm' };
      const frames = Array.from({ length: 20 }, (_, i) =>
        encodeRequest({ apiKey: HEARTBEAT, version: 0, correlationId: i, body }),
      );
      const responses = frames.map(() => client.nextFrame());
      await client.sendRaw(Buffer.concat(frames)); // one write: one TCP segment on loopback
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(waiting.length).toBe(4);
      // Answering releases the rest, a few at a time, in order.
      let answered = 0;
      while (answered < 20) {
        expect(waiting.length - answered).toBeLessThanOrEqual(4);
        expect(waiting.length).toBeGreaterThan(answered);
        waiting[answered++]({ errorCode: 0 });
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const ids = (await Promise.all(responses)).map(
        (f) => decodeResponse(f, HEARTBEAT, 0).correlationId,
      );
      expect(ids).toEqual(frames.map((_, i) => i));
    } finally {
      await client.close();
      await server.close(100);
    }
  });
});
