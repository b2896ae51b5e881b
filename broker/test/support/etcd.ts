// A real etcd server for tests: the Debian etcd-server binary on free loopback ports with a
// throwaway data directory. It can be stopped and started again on the same ports and data, so
// tests can take etcd away from a running client and give it back.

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './free-port.js';

const ETCD_BINARY = process.env['ETCD_BINARY'] ?? '/usr/bin/etcd';
const START_TIMEOUT_MS = 20_000;

export class EtcdServer {
  private process: ChildProcess | undefined;
  private output = '';

  private constructor(
    readonly dataDir: string,
    readonly clientPort: number,
    readonly peerPort: number,
  ) {}

  /** Starts a fresh single-member etcd and waits until it serves requests. */
  static async start(): Promise<EtcdServer> {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'kafscale-etcd-'));
    const server = new EtcdServer(dataDir, await freePort(), await freePort());
    try {
      await server.restart();
    } catch (error) {
      await server.destroy();
      throw error;
    }
    return server;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.clientPort}`;
  }

  /** Starts etcd again on the same ports and data directory. */
  async restart(): Promise<void> {
    if (this.process) throw new Error('etcd is already running');
    const client = `http://127.0.0.1:${this.clientPort}`;
    const peer = `http://127.0.0.1:${this.peerPort}`;
    this.output = '';
    const child = spawn(
      ETCD_BINARY,
      [
        '--name=test',
        `--data-dir=${path.join(this.dataDir, 'data')}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=test=${peer}`,
        '--initial-cluster-state=new',
        '--log-level=error',
        '--logger=zap',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ETCD_UNSUPPORTED_ARCH: '' } },
    );
    const collect = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-4000);
    };
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    this.process = child;
    await this.waitUntilServing(child);
  }

  /** Kills etcd (SIGKILL, as a crash would) and waits for it to be gone. */
  async stop(): Promise<void> {
    const child = this.process;
    if (!child) return;
    this.process = undefined;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGKILL');
      await exited;
    }
  }

  /** Stops etcd and removes its data directory. */
  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  private async waitUntilServing(child: ChildProcess): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) {
        throw new Error(`etcd exited with ${child.exitCode}: ${this.output}`);
      }
      if (await this.healthy()) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await this.stop();
    throw new Error(`etcd did not become healthy within ${START_TIMEOUT_MS} ms: ${this.output}`);
  }

  /** etcd's /health answers true only once it has a leader and can serve requests. */
  private healthy(): Promise<boolean> {
    return new Promise((resolve) => {
      const socket = net.connect(this.clientPort, '127.0.0.1');
      let response = '';
      socket.setTimeout(1000, () => socket.destroy());
      socket.on('connect', () =>
        socket.write(`GET /health HTTP/1.0\r\nHost: 127.0.0.1:${this.clientPort}\r\n\r\n`),
      );
      socket.on('data', (chunk) => (response += chunk.toString()));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(/"health":\s*"true"/.test(response)));
    });
  }
}
