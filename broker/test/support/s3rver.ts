// A real S3 API for tests: s3rver in a child process (it needs --openssl-legacy-provider, which
// must not leak into the test process) with a temp data directory and one bucket.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { S3ObjectStoreConfig } from '../../src/storage/s3-object-store.js';

export interface S3rver {
  endpoint: string;
  port: number;
  bucket: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
  dataDir: string;
  /** Config for an S3ObjectStore talking to this server (or to endpoint, e.g. a proxy). */
  storeConfig(overrides?: Partial<S3ObjectStoreConfig>): S3ObjectStoreConfig;
  /** Where s3rver keeps an object's bytes, to check them without going through the S3 API. */
  objectFile(key: string): string;
  stop(): Promise<void>;
}

// Runs in the child. It exits when its stdin closes, so a crashed test run leaves no server.
const CHILD = `
const S3rver = require(process.argv[1]);
const [, , directory, bucket] = process.argv;
new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory,
  configureBuckets: [{ name: bucket, configs: [] }] })
  .run()
  .then(({ port }) => console.log('listening ' + port))
  .catch((error) => { console.error(error); process.exit(1); });
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
`;

export async function startS3rver(bucket = 'kafscale-test'): Promise<S3rver> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 's3rver-'));
  const lib = createRequire(import.meta.url).resolve('s3rver');
  const child = spawn(
    process.execPath,
    ['--openssl-legacy-provider', '-e', CHILD, lib, dataDir, bucket],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let port: number;
  try {
    port = await waitForPort(child);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const region = 'us-east-1';
  return {
    endpoint,
    port,
    bucket,
    region,
    credentials,
    dataDir,
    storeConfig: (overrides = {}) => ({
      bucket,
      region,
      endpoint,
      forcePathStyle: true,
      credentials,
      ...overrides,
    }),
    objectFile: (key) => {
      const parts = key.split('/');
      const name = `${parts.pop()}._S3rver_object`;
      return path.join(dataDir, bucket, ...parts, name);
    },
    stop: async () => {
      await stopChild(child);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

function waitForPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => fail(new Error('s3rver did not start within 15 s')), 15_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(new Error(`${error.message}\n${stderr}`));
    };
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout!.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const match = /listening (\d+)/.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve(Number(match[1]));
      }
    });
    child.once('error', fail);
    child.once('exit', (code) => fail(new Error(`s3rver exited with code ${code}`)));
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    child.once('exit', () => {
      clearTimeout(killer);
      resolve();
    });
    child.stdin!.end();
  });
}
