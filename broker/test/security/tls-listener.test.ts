// TLS on the Kafka listener of a real broker process: real clients over SSL, plaintext clients
// refused, client certificates, and certificate rotation without a restart.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { BrokerProcess } from '../support/broker-process.js';
import { WireClient } from '../support/wire-client.js';
import { TestCa, selfSigned, type Issued } from './certs.js';
import { confluentRoundTrip, kcatMetadata, kcatRoundTrip, pem } from './secure-clients.js';

let dir: string;
let ca: TestCa;
let client: Issued;
/** The files the broker reads; rotation overwrites them. */
let served: Issued;
let requested: BrokerProcess;
let required: BrokerProcess;

function tlsEnv(clientAuth: string): Record<string, string> {
  return {
    KAFSCALE_TLS_ENABLED: 'true',
    KAFSCALE_TLS_CERT_FILE: served.cert,
    KAFSCALE_TLS_KEY_FILE: served.key,
    KAFSCALE_TLS_CA_FILE: ca.cert,
    KAFSCALE_TLS_CLIENT_AUTH: clientAuth,
    KAFSCALE_TLS_RELOAD_INTERVAL_SEC: '1',
    KAFSCALE_METRICS_ADDR: 'off',
    KAFSCALE_LOG_LEVEL: 'info',
  };
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafscale-tls-'));
  ca = new TestCa(dir);
  const first = ca.issue('broker-1', 'kafscale-broker-1');
  client = ca.issue('client', 'test-client');
  served = { cert: path.join(dir, 'tls.crt'), key: path.join(dir, 'tls.key') };
  fs.copyFileSync(first.cert, served.cert);
  fs.copyFileSync(first.key, served.key);
  [requested, required] = await Promise.all([
    BrokerProcess.start({ env: tlsEnv('requested') }),
    BrokerProcess.start({ env: tlsEnv('required') }),
  ]);
});

afterAll(async () => {
  await Promise.all([requested?.destroy(), required?.destroy()]);
  fs.rmSync(dir, { recursive: true, force: true });
});

const ssl = () => ({ 'security.protocol': 'ssl', 'ssl.ca.location': ca.cert });

/** Opens a TLS connection; resolves with the server certificate's CN, rejects on failure. */
function handshake(port: number, options: tls.ConnectionOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, ca: pem(ca.cert), ...options });
    socket.once('secureConnect', () => {
      const cn = socket.getPeerCertificate().subject.CN;
      // TLS 1.3 reports a refused client certificate only after the handshake: wait a moment.
      socket.once('close', () => reject(new Error('closed by the broker')));
      setTimeout(() => {
        socket.removeAllListeners('close');
        socket.destroy();
        resolve(String(cn));
      }, 300);
    });
    socket.once('error', reject);
  });
}

test('kcat produces and consumes over TLS', async () => {
  const values = Array.from({ length: 50 }, (_, i) => `kcat-tls-${i}`);
  expect(await kcatRoundTrip(requested.bootstrap, 'tls-kcat', values, ssl())).toEqual(values);
});

test('confluent-kafka produces and consumes over TLS', async () => {
  const values = Array.from({ length: 50 }, (_, i) => `confluent-tls-${i}`);
  expect(await confluentRoundTrip(requested.bootstrap, 'tls-confluent', values, ssl())).toEqual(
    values,
  );
});

test('a plaintext client is refused cleanly and the broker keeps serving TLS', async () => {
  const wire = await WireClient.connect(requested.port);
  const response = wire.request(18, 3, { clientSoftwareName: 'x', clientSoftwareVersion: '1' });
  await expect(response).rejects.toThrow('connection closed');
  expect(await wire.closedWithin(5000)).toBe(true);
  await expect(kcatMetadata(requested.bootstrap, {})).rejects.toThrow(/kcat failed/);
  expect(requested.output).toContain('TLS handshake failed');
  await expect(handshake(requested.port)).resolves.toBe('kafscale-broker-1');
});

test('client auth "requested": no certificate or a valid one is accepted, an unknown one refused', async () => {
  await expect(handshake(requested.port)).resolves.toBe('kafscale-broker-1');
  await expect(
    handshake(requested.port, { cert: pem(client.cert), key: pem(client.key) }),
  ).resolves.toBe('kafscale-broker-1');
  const rogue = selfSigned(dir, 'rogue');
  await expect(
    handshake(requested.port, { cert: pem(rogue.cert), key: pem(rogue.key) }),
  ).rejects.toThrow();
  expect(requested.output).toContain('TLS client certificate refused');
});

test('client auth "required": a client certificate signed by the CA is needed', async () => {
  await expect(handshake(required.port)).rejects.toThrow();
  const withCert = {
    ...ssl(),
    'ssl.certificate.location': client.cert,
    'ssl.key.location': client.key,
  };
  const values = ['mtls-1', 'mtls-2'];
  expect(await kcatRoundTrip(required.bootstrap, 'tls-mtls', values, withCert)).toEqual(values);
});

test('a rotated certificate is served to new connections without a restart', async () => {
  const pid = requested.pid;
  const waitForCn = async (cn: string) => {
    const deadline = Date.now() + 15_000;
    while ((await handshake(requested.port)) !== cn) {
      if (Date.now() > deadline) throw new Error(`the broker never served ${cn}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  // Replace the files the way a Secret update does: new content appears at the same path.
  const replace = (from: string, to: string) => {
    fs.copyFileSync(from, `${to}.tmp`);
    fs.renameSync(`${to}.tmp`, to);
  };
  const second = ca.issue('broker-2', 'kafscale-broker-2');
  replace(second.key, served.key);
  replace(second.cert, served.cert);
  await waitForCn('kafscale-broker-2');

  // Half a rotation (a new certificate, the old key) is not applied: the current one stays.
  const third = ca.issue('broker-3', 'kafscale-broker-3');
  replace(third.cert, served.cert);
  await new Promise((r) => setTimeout(r, 2500));
  await expect(handshake(requested.port)).resolves.toBe('kafscale-broker-2');
  expect(requested.output).toContain('TLS certificate reload failed');
  replace(third.key, served.key);
  await waitForCn('kafscale-broker-3');

  expect(requested.pid).toBe(pid);
  const values = ['after-rotation'];
  expect(await kcatRoundTrip(requested.bootstrap, 'tls-rotated', values, ssl())).toEqual(values);
});
