import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BrokerProcess } from '../support/broker-process.js';
import { freePort } from '../support/free-port.js';

const BIN = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../src/bin/kafscale-broker.ts',
);

/** Runs the broker binary to completion; resolves with its exit code and output. */
function runBroker(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', BIN], {
      env: { ...process.env, KAFSCALE_METRICS_ADDR: '127.0.0.1:0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

test('a bad variable stops the broker with exit code 2 and names the variable', async () => {
  const { code, output } = await runBroker({ KAFSCALE_FLUSH_INTERVAL_MS: 'soon' });
  expect(code).toBe(2);
  expect(output).toContain('KAFSCALE_FLUSH_INTERVAL_MS must be an integer');
});

test('an unreachable metadata store: no listener, exit non-zero after the startup timeout', async () => {
  const port = await freePort();
  const deadEtcd = `http://127.0.0.1:${await freePort()}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kafscale-startup-'));
  const started = Date.now();
  const run = runBroker({
    KAFSCALE_BROKER_PORT: String(port),
    KAFSCALE_DATA_DIR: dataDir,
    KAFSCALE_ETCD_ENDPOINTS: deadEtcd,
    KAFSCALE_STARTUP_TIMEOUT_SEC: '3',
  });
  // While it waits, nothing listens on the Kafka port.
  await new Promise((r) => setTimeout(r, 1500));
  const refused = await new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
  expect(refused).toBe(true);
  const { code, output } = await run;
  expect(code).toBe(1);
  expect(output).toMatch(/metadata store not reachable within 3s \(KAFSCALE_STARTUP_TIMEOUT_SEC\)/);
  expect(Date.now() - started).toBeGreaterThanOrEqual(3000);
  fs.rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

test('SIGTERM: acknowledged data is committed, the process exits 0, a restart serves it all', async () => {
  const broker = await BrokerProcess.start();
  try {
    const lines = Array.from({ length: 300 }, (_, i) => `m${i}`);
    execFileSync('kcat', ['-P', '-b', broker.bootstrap, '-t', 'graceful', '-X', 'acks=all'], {
      input: lines.join('\n') + '\n',
    });
    expect(await broker.stop()).toBe(0);
    await broker.relaunch();
    const consumed = execFileSync(
      'kcat',
      ['-C', '-b', broker.bootstrap, '-t', 'graceful', '-o', 'beginning', '-e', '-q'],
      { encoding: 'utf8' },
    );
    expect(consumed.trim().split('\n')).toEqual(lines);
  } finally {
    await broker.destroy();
  }
}, 60_000);
