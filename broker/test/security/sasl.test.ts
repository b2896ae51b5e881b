// SASL on a real broker process whose metadata lives in a real etcd, with users managed by the
// `kafscale users` CLI while the broker runs: PLAIN and SCRAM with kcat, confluent-kafka and
// kafkajs, failures, requests before authentication, and the legacy SaslHandshake v0 framing.
import { KafkaJSSASLAuthenticationError, type SASLOptions } from 'kafkajs';
import { BrokerProcess } from '../support/broker-process.js';
import { EtcdServer } from '../support/etcd.js';
import { WireClient } from '../support/wire-client.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';
import type {
  ApiVersionsResponse,
  SaslAuthenticateResponse,
  SaslHandshakeResponse,
} from '../../src/protocol/generated/index.js';
import { kafscale } from './cli.js';
import { ScramClient } from './scram-client.js';
import {
  confluentRoundTrip,
  kafkajsRoundTrip,
  kcatMetadata,
  kcatRoundTrip,
} from './secure-clients.js';

const API_VERSIONS = 18;
const SASL_HANDSHAKE = 17;
const SASL_AUTHENTICATE = 36;
const METADATA = 3;
const PASSWORD = 'al1ce-S3cret!';
const MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

let etcd: EtcdServer;
let broker: BrokerProcess;
let env: Record<string, string>;

beforeAll(async () => {
  etcd = await EtcdServer.start();
  env = { KAFSCALE_ETCD_ENDPOINTS: etcd.endpoint, KAFSCALE_CLUSTER_NAME: 'sasl-test' };
  broker = await BrokerProcess.start({
    env: {
      ...env,
      KAFSCALE_SASL_ENABLED: 'true',
      KAFSCALE_METRICS_ADDR: 'off',
      KAFSCALE_LOG_LEVEL: 'debug',
      KAFSCALE_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    },
  });
  // Added while the broker runs: credentials are read from etcd on every authentication.
  const added = await kafscale(['users', 'add', 'alice', '--password-stdin'], env, PASSWORD);
  expect(added.code).toBe(0);
}, 60_000);

afterAll(async () => {
  await broker?.destroy();
  await etcd?.destroy();
});

function librdkafka(mechanism: string, password = PASSWORD, user = 'alice') {
  return {
    'security.protocol': 'sasl_plaintext',
    'sasl.mechanism': mechanism,
    'sasl.username': user,
    'sasl.password': password,
  };
}

function kafkajsSasl(mechanism: (typeof MECHANISMS)[number], password = PASSWORD): SASLOptions {
  const name = mechanism.toLowerCase() as 'plain' | 'scram-sha-256' | 'scram-sha-512';
  return { mechanism: name, username: 'alice', password } as SASLOptions;
}

const values = (prefix: string) => Array.from({ length: 20 }, (_, i) => `${prefix}-${i}`);

describe.each(MECHANISMS)('%s', (mechanism) => {
  const topic = (client: string) => `sasl-${client}-${mechanism.toLowerCase()}`;

  test('kcat produces and consumes', async () => {
    const sent = values(`kcat-${mechanism}`);
    expect(
      await kcatRoundTrip(broker.bootstrap, topic('kcat'), sent, librdkafka(mechanism)),
    ).toEqual(sent);
  });

  test('confluent-kafka produces and consumes', async () => {
    const sent = values(`confluent-${mechanism}`);
    expect(
      await confluentRoundTrip(broker.bootstrap, topic('confluent'), sent, librdkafka(mechanism)),
    ).toEqual(sent);
  });

  test('kafkajs produces and consumes', async () => {
    const sent = values(`kafkajs-${mechanism}`);
    const config = { brokers: [broker.bootstrap], sasl: kafkajsSasl(mechanism) };
    expect(await kafkajsRoundTrip(config, topic('kafkajs'), sent)).toEqual(sent);
  });

  test('a wrong password is refused by kcat and kafkajs', async () => {
    await expect(kcatMetadata(broker.bootstrap, librdkafka(mechanism, 'wrong'))).rejects.toThrow(
      /Authentication failed/,
    );
    const config = { brokers: [broker.bootstrap], sasl: kafkajsSasl(mechanism, 'wrong') };
    await expect(
      kafkajsRoundTrip({ ...config, retry: { retries: 0 } }, 'never', ['x']),
    ).rejects.toThrow(KafkaJSSASLAuthenticationError);
  });

  test('the legacy SaslHandshake v0 flow (raw tokens) works with librdkafka', async () => {
    const legacy = {
      ...librdkafka(mechanism),
      'api.version.request': 'false',
      'broker.version.fallback': '0.10.0',
    };
    expect(await kcatMetadata(broker.bootstrap, legacy)).toContain(`at ${broker.bootstrap}`);
  });
});

async function handshake(wire: WireClient, mechanism: string, version = 1) {
  return (await wire.request<SaslHandshakeResponse>(SASL_HANDSHAKE, version, { mechanism })).body;
}

async function authenticate(wire: WireClient, bytes: string) {
  return (
    await wire.request<SaslAuthenticateResponse>(SASL_AUTHENTICATE, 2, {
      authBytes: Buffer.from(bytes),
    })
  ).body;
}

/** A raw token after SaslHandshake v0: a size prefix and the bytes, no request header. */
async function rawToken(wire: WireClient, bytes: string): Promise<string> {
  const token = Buffer.from(bytes);
  const frame = Buffer.alloc(4 + token.length);
  frame.writeInt32BE(token.length, 0);
  token.copy(frame, 4);
  const reply = wire.nextFrame();
  await wire.sendRaw(frame);
  return (await reply).toString();
}

describe('on the wire', () => {
  let wire: WireClient;
  beforeEach(async () => {
    wire = await WireClient.connect(broker.port);
  });
  afterEach(async () => {
    await wire.close();
  });

  test('ApiVersions is answered before authentication and lists the SASL APIs', async () => {
    const { body } = await wire.request<ApiVersionsResponse>(API_VERSIONS, 3, {
      clientSoftwareName: 'wire',
      clientSoftwareVersion: '1',
    });
    expect(body.apiKeys).toEqual(
      expect.arrayContaining([
        { apiKey: SASL_HANDSHAKE, minVersion: 0, maxVersion: 1 },
        { apiKey: SASL_AUTHENTICATE, minVersion: 0, maxVersion: 2 },
      ]),
    );
  });

  test('Metadata before authentication closes the connection without an answer', async () => {
    await expect(wire.request(METADATA, 1, { topics: [] })).rejects.toThrow('connection closed');
    expect(broker.output).toContain('request (api key 3) before SASL authentication');
  });

  test('a frame over 512 KiB before authentication closes the connection', async () => {
    const header = Buffer.alloc(4);
    header.writeInt32BE(512 * 1024 + 1, 0);
    await wire.sendRaw(header);
    expect(await wire.closedWithin(5000)).toBe(true);
    expect(broker.output).toContain('request size 524289 outside [8, 524288]');
  });

  test('SaslAuthenticate before SaslHandshake closes the connection', async () => {
    await expect(authenticate(wire, '\0alice\0x')).rejects.toThrow('connection closed');
  });

  test('Metadata between handshake and authentication closes the connection', async () => {
    expect((await handshake(wire, 'PLAIN')).errorCode).toBe(ErrorCode.NONE);
    await expect(wire.request(METADATA, 1, { topics: [] })).rejects.toThrow('connection closed');
  });

  test('an unsupported mechanism gets the enabled list, then the connection closes', async () => {
    expect(await handshake(wire, 'GSSAPI')).toEqual({
      errorCode: ErrorCode.UNSUPPORTED_SASL_MECHANISM,
      mechanisms: ['SCRAM-SHA-512', 'SCRAM-SHA-256', 'PLAIN'],
    });
    expect(await wire.closedWithin(5000)).toBe(true);
  });

  test('a wrong SCRAM proof gets SASL_AUTHENTICATION_FAILED with a message, then close', async () => {
    expect((await handshake(wire, 'SCRAM-SHA-512')).errorCode).toBe(ErrorCode.NONE);
    const client = new ScramClient('SCRAM-SHA-512', 'alice', 'not the password');
    const first = await authenticate(wire, client.clientFirst);
    expect(first.errorCode).toBe(ErrorCode.NONE);
    const final = await authenticate(wire, client.clientFinal(first.authBytes.toString()));
    expect(final.errorCode).toBe(ErrorCode.SASL_AUTHENTICATION_FAILED);
    expect(final.errorMessage).toBe(
      'Authentication failed during authentication due to invalid credentials with SASL mechanism SCRAM-SHA-512',
    );
    expect(await wire.closedWithin(5000)).toBe(true);
  });

  test('a wrong PLAIN password gets SASL_AUTHENTICATION_FAILED, then close', async () => {
    expect((await handshake(wire, 'PLAIN', 1)).errorCode).toBe(ErrorCode.NONE);
    const result = await authenticate(wire, '\0alice\0wrong');
    expect(result).toMatchObject({
      errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
      errorMessage: 'Authentication failed: Invalid username or password',
    });
    expect(await wire.closedWithin(5000)).toBe(true);
  });

  test('SCRAM over SaslAuthenticate proves the server, then requests are served', async () => {
    expect((await handshake(wire, 'SCRAM-SHA-256')).errorCode).toBe(ErrorCode.NONE);
    const client = new ScramClient('SCRAM-SHA-256', 'alice', PASSWORD);
    const first = await authenticate(wire, client.clientFirst);
    const final = await authenticate(wire, client.clientFinal(first.authBytes.toString()));
    expect(final.errorCode).toBe(ErrorCode.NONE);
    expect(client.verifyServerFinal(final.authBytes.toString())).toBe(true);
    const metadata = await wire.request<{ brokers: unknown[] }>(METADATA, 1, { topics: [] });
    expect(metadata.body.brokers).toHaveLength(1);
    // No re-authentication: a second handshake is an illegal state and closes the connection.
    expect((await handshake(wire, 'PLAIN')).errorCode).toBe(ErrorCode.ILLEGAL_SASL_STATE);
    expect(await wire.closedWithin(5000)).toBe(true);
  });

  test('SaslHandshake v0: raw SCRAM tokens, then requests are served', async () => {
    expect((await handshake(wire, 'SCRAM-SHA-512', 0)).errorCode).toBe(ErrorCode.NONE);
    const client = new ScramClient('SCRAM-SHA-512', 'alice', PASSWORD);
    const serverFirst = await rawToken(wire, client.clientFirst);
    const serverFinal = await rawToken(wire, client.clientFinal(serverFirst));
    expect(client.verifyServerFinal(serverFinal)).toBe(true);
    const metadata = await wire.request<{ brokers: unknown[] }>(METADATA, 1, { topics: [] });
    expect(metadata.body.brokers).toHaveLength(1);
  });

  test('SaslHandshake v0: a wrong PLAIN password closes the connection without a reply', async () => {
    expect((await handshake(wire, 'PLAIN', 0)).errorCode).toBe(ErrorCode.NONE);
    await expect(rawToken(wire, '\0alice\0wrong')).rejects.toThrow('connection closed');
  });
});

test('a user deleted with the CLI can no longer authenticate', async () => {
  expect((await kafscale(['users', 'add', 'bob', '--password-stdin'], env, 'bob-pw')).code).toBe(0);
  await expect(
    kcatMetadata(broker.bootstrap, librdkafka('SCRAM-SHA-512', 'bob-pw', 'bob')),
  ).resolves.toContain(`at ${broker.bootstrap}`);
  expect((await kafscale(['users', 'delete', 'bob'], env)).code).toBe(0);
  await expect(
    kcatMetadata(broker.bootstrap, librdkafka('SCRAM-SHA-512', 'bob-pw', 'bob')),
  ).rejects.toThrow(/Authentication failed/);
});

test('the broker logs who authenticated and who failed, never a password', () => {
  expect(broker.output).toMatch(/"message":"SASL authentication succeeded".*"user":"alice"/);
  expect(broker.output).toMatch(/"message":"SASL authentication failed"/);
  for (const secret of [PASSWORD, 'bob-pw', 'not the password']) {
    expect(broker.output).not.toContain(secret);
    expect(broker.output).not.toContain(Buffer.from(secret).toString('base64'));
  }
});
