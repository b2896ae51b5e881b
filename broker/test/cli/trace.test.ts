// KAFSCALE_TRACE_KAFKA on a real broker process: kcat -L (plaintext, then SASL PLAIN) leaves one
// debug line per request and per response, with header fields and error codes and never a
// password or a body.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BrokerProcess } from '../support/broker-process.js';
import { KCAT } from '../support/clients.js';
import { kafscale } from '../security/cli.js';
import { kcatMetadata } from '../security/secure-clients.js';
import { summarizeErrors } from '../../src/server/trace.js';

const PASSWORD = 'tr4ce-Secret-never-logged';

interface TraceLine {
  level: string;
  message: string;
  api: string;
  version: number;
  correlationId: number;
  clientId: string | null;
  peer: string;
  durationMs?: number;
  errors?: string;
}

function traceLines(output: string): TraceLine[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as TraceLine)
    .filter((l) => l.message === 'kafka request' || l.message === 'kafka response');
}

test('every request and response of kcat -L is traced, without secrets', async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafscale-trace-'));
  // The embedded store is opened by one process at a time: the user is added before the start.
  const env = { KAFSCALE_DATA_DIR: dataDir };
  const added = await kafscale(['users', 'add', 'tracer', '--password-stdin'], env, PASSWORD);
  expect(added.code).toBe(0);
  const broker = await BrokerProcess.start({
    dataDir,
    env: {
      KAFSCALE_TRACE_KAFKA: 'true',
      KAFSCALE_LOG_LEVEL: 'debug',
      KAFSCALE_METRICS_ADDR: 'off',
      KAFSCALE_AUTO_CREATE_TOPICS: 'false',
      KAFSCALE_SASL_ENABLED: 'true',
      KAFSCALE_SASL_MECHANISMS: 'PLAIN',
    },
  });
  try {
    const listing = await kcatMetadata(broker.bootstrap, {
      'security.protocol': 'sasl_plaintext',
      'sasl.mechanism': 'PLAIN',
      'sasl.username': 'tracer',
      'sasl.password': PASSWORD,
      'client.id': 'trace-kcat',
    });
    expect(listing).toContain(`at ${broker.bootstrap}`);
    // A topic that does not exist: the Metadata response carries an error code.
    await new Promise<void>((resolve) => {
      const sasl = ['-X', 'security.protocol=sasl_plaintext', '-X', 'sasl.mechanism=PLAIN'];
      const user = ['-X', 'sasl.username=tracer', '-X', `sasl.password=${PASSWORD}`];
      execFile(
        KCAT,
        [
          '-L',
          '-b',
          broker.bootstrap,
          '-t',
          'no-such-topic',
          '-m',
          '2',
          ...sasl,
          ...user,
          '-X',
          'client.id=trace-kcat',
        ],
        { timeout: 15_000 },
        () => resolve(),
      );
    });
    await new Promise((r) => setTimeout(r, 200));
    const lines = traceLines(broker.output).filter((l) => l.clientId === 'trace-kcat');
    const apis = new Set(lines.map((l) => l.api));
    for (const api of ['ApiVersions', 'SaslHandshake', 'SaslAuthenticate', 'Metadata']) {
      expect(apis).toContain(api);
    }
    for (const line of lines) {
      expect(line.level).toBe('debug');
      expect(line.peer).toMatch(/^(::ffff:)?127\.0\.0\.1:\d+$/);
      expect(Number.isInteger(line.correlationId)).toBe(true);
      expect(Object.keys(line).sort()).toEqual(
        line.message === 'kafka request'
          ? ['api', 'clientId', 'correlationId', 'level', 'message', 'peer', 'timestamp', 'version']
          : expect.arrayContaining(['durationMs', 'correlationId']),
      );
    }
    // One request line and one response line per correlation id and connection.
    const requests = lines.filter((l) => l.message === 'kafka request');
    const responses = lines.filter((l) => l.message === 'kafka response');
    expect(responses.length).toBe(requests.length);
    const id = (l: TraceLine) => `${l.peer}/${l.correlationId}`;
    expect(new Set(responses.map(id))).toEqual(new Set(requests.map(id)));
    expect(responses.every((l) => typeof l.durationMs === 'number' && l.durationMs >= 0)).toBe(
      true,
    );
    expect(
      responses.some(
        (l) => l.api === 'Metadata' && l.errors?.includes('UNKNOWN_TOPIC_OR_PARTITION='),
      ),
    ).toBe(true);
    // Secrets and payloads never appear: not the password, not the SASL PLAIN message.
    for (const secret of [PASSWORD, Buffer.from(`\0tracer\0${PASSWORD}`).toString('base64')]) {
      expect(broker.output).not.toContain(secret);
    }
    expect(broker.output).not.toContain(Buffer.from(PASSWORD).toString('base64'));
  } finally {
    await broker.destroy();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}, 60_000);

test('error codes of a response are summarized by name and count', () => {
  expect(summarizeErrors({ errorCode: 0, topics: [] })).toBeUndefined();
  expect(
    summarizeErrors({
      throttleTimeMs: 0,
      topics: [
        { errorCode: 3, partitions: [] },
        { errorCode: 3, partitions: [{ errorCode: 6, records: Buffer.from([3, 3]) }] },
      ],
    }),
  ).toBe('UNKNOWN_TOPIC_OR_PARTITION=2,NOT_LEADER_OR_FOLLOWER=1');
  expect(summarizeErrors({ topicConfigErrorCode: 40 })).toBe('INVALID_CONFIG=1');
});
