import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KafkaServer } from '../../src/server/kafka-server.js';
import { HandlerRegistry } from '../../src/server/handler-registry.js';
import { apiVersionsHandler } from '../../src/handlers/api-versions.js';
import { silentLogger } from '../../src/logger.js';
import { Reader } from '../../src/protocol/codec/reader.js';
import { Writer } from '../../src/protocol/codec/writer.js';
import {
  API_DEFINITIONS,
  RequestHeaderCodec,
  type ApiVersionsRequest,
  type ApiVersionsResponse,
  type MetadataRequest,
  type RequestHeader,
} from '../../src/protocol/generated/index.js';
import { freePort } from '../support/free-port.js';
import { WireClient, decodeResponse } from '../support/wire-client.js';

// Request frames captured from real clients by broker/scripts/capture-golden.ts.
const GOLDEN_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'golden');
const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

interface Golden {
  header: RequestHeader;
  body: unknown;
  bytes: Buffer;
  headerVersion: number;
}

function load(file: string): Golden {
  const bytes = Buffer.from(fs.readFileSync(path.join(GOLDEN_DIR, file), 'utf8').trim(), 'hex');
  expect(bytes.readInt32BE(0)).toBe(bytes.length - 4);
  const apiKey = bytes.readInt16BE(4);
  const version = bytes.readInt16BE(6);
  const api = API_DEFINITIONS.find((d) => d.apiKey === apiKey)!;
  const headerVersion = api.flexibleFrom >= 0 && version >= api.flexibleFrom ? 2 : 1;
  const r = new Reader(bytes, 4);
  const header = RequestHeaderCodec.read(r, headerVersion);
  const body = api.request.read(r, version);
  expect(r.remaining).toBe(0);
  return { header, body, bytes, headerVersion };
}

/** Encodes the decoded header and body again, size prefix included. */
function reencode({ header, body, headerVersion }: Golden): Buffer {
  const api = API_DEFINITIONS.find((d) => d.apiKey === header.requestApiKey)!;
  const v = header.requestApiVersion;
  const size = RequestHeaderCodec.size(header, headerVersion) + api.request.size(body, v);
  const w = Writer.alloc(4 + size);
  w.int32(size);
  RequestHeaderCodec.write(w, header, headerVersion);
  api.request.write(w, body, v);
  return w.buf;
}

interface Expectation {
  apiKey: number;
  version: number;
  clientId: string;
  body: ApiVersionsRequest | MetadataRequest;
}

const EXPECTED: Record<string, Expectation> = {
  'kcat-api-versions-v3.hex': {
    apiKey: 18,
    version: 3,
    clientId: 'rdkafka',
    body: { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.0.2' },
  },
  'kcat-metadata-v4.hex': {
    apiKey: 3,
    version: 4,
    clientId: 'rdkafka',
    // kcat -L -t golden-a: one topic, auto-creation allowed (librdkafka's default).
    body: { topics: [{ name: 'golden-a' }], allowAutoTopicCreation: true },
  },
  'kafkajs-api-versions-v2.hex': {
    apiKey: 18,
    version: 2,
    clientId: 'golden-kafkajs',
    body: {},
  },
  'kafkajs-metadata-v6.hex': {
    apiKey: 3,
    version: 6,
    clientId: 'golden-kafkajs',
    // admin.fetchTopicMetadata never auto-creates.
    body: { topics: [{ name: 'golden-a' }, { name: 'golden-b' }], allowAutoTopicCreation: false },
  },
  'platformatic-api-versions-v3.hex': {
    apiKey: 18,
    version: 3,
    clientId: 'golden-platformatic',
    body: { clientSoftwareName: 'platformatic-kafka', clientSoftwareVersion: '1.35.0' },
  },
  'platformatic-metadata-v12.hex': {
    apiKey: 3,
    version: 12,
    clientId: 'golden-platformatic',
    body: {
      topics: [
        { topicId: ZERO_UUID, name: 'golden-a' },
        { topicId: ZERO_UUID, name: 'golden-b' },
      ],
      allowAutoTopicCreation: false,
      includeTopicAuthorizedOperations: true,
    },
  },
};

describe('golden request bytes captured from real clients', () => {
  test('every captured file has expectations', () => {
    const files = fs.readdirSync(GOLDEN_DIR).filter((f) => f.endsWith('.hex'));
    expect(files.sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [file, expected] of Object.entries(EXPECTED)) {
    test(`${file} decodes to the expected fields and re-encodes to the same bytes`, () => {
      const golden = load(file);
      expect(golden.header.requestApiKey).toBe(expected.apiKey);
      expect(golden.header.requestApiVersion).toBe(expected.version);
      expect(golden.header.clientId).toBe(expected.clientId);
      expect(golden.header.correlationId).toBeGreaterThanOrEqual(0);
      expect(golden.body).toMatchObject(expected.body);
      if (expected.apiKey === 3) {
        const topics = (golden.body as MetadataRequest).topics!;
        expect(topics).toHaveLength((expected.body as MetadataRequest).topics!.length);
      }
      expect(reencode(golden).toString('hex')).toBe(golden.bytes.toString('hex'));
    });
  }

  test('header versions follow the flexible versions: v2 for ApiVersions v3 and Metadata v12', () => {
    expect(load('kcat-api-versions-v3.hex').headerVersion).toBe(2);
    expect(load('platformatic-metadata-v12.hex').headerVersion).toBe(2);
    expect(load('kafkajs-metadata-v6.hex').headerVersion).toBe(1);
  });

  test('the server answers the captured ApiVersions requests', async () => {
    const registry = new HandlerRegistry();
    registry.register(apiVersionsHandler(registry));
    const server = new KafkaServer({
      host: '127.0.0.1',
      port: await freePort(),
      registry,
      logger: silentLogger(),
      maxRequestBytes: 1024 * 1024,
    });
    const port = await server.listen();
    try {
      for (const file of Object.keys(EXPECTED).filter((f) => f.includes('api-versions'))) {
        const golden = load(file);
        const client = await WireClient.connect(port);
        const frame = client.nextFrame();
        await client.sendRaw(golden.bytes);
        const res = decodeResponse<ApiVersionsResponse>(
          await frame,
          18,
          golden.header.requestApiVersion,
        );
        expect(res.correlationId).toBe(golden.header.correlationId);
        expect(res.body.errorCode).toBe(0);
        expect(res.body.apiKeys).toEqual([{ apiKey: 18, minVersion: 0, maxVersion: 4 }]);
        await client.close();
      }
    } finally {
      await server.close(100);
    }
  });
});
