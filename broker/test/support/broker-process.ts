import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';

const BROKER_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCE_BIN = path.join(BROKER_DIR, 'src/bin/kafscale-broker.ts');
/** What `npx tsc -b broker` compiles the source to; the image runs it. */
export const COMPILED_BIN = path.join(BROKER_DIR, 'dist/src/bin/kafscale-broker.js');

/**
 * The environment broker/Dockerfile gives the broker (checked by test/packaging): glibc's
 * allocator settings, without which freed Buffers stay in the process (RSS ~250 MiB above the
 * live heap and buffers under produce load). Processes here get it too, so they run like the image.
 */
export const IMAGE_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '65536',
};

export interface BrokerProcessOptions {
  /** Extra KAFSCALE_* variables (S3, etcd, flush settings...). */
  env?: Record<string, string>;
  /** Data directory; a fresh temp dir by default (kept across restart()). */
  dataDir?: string;
  port?: number;
  /** Extra node options before the script, such as --cpu-prof (not allowed in NODE_OPTIONS). */
  nodeArgs?: string[];
  /**
   * Run the compiled broker (COMPILED_BIN, as the image does) instead of the source through tsx,
   * whose transpiler adds about 40 MiB of RSS and start-up CPU: for measurements.
   */
  compiled?: boolean;
}

/**
 * A real broker process started from the source with tsx, configured by environment variables
 * exactly as the container runs it. Resolves once it prints that it listens.
 */
export class BrokerProcess {
  private child?: ChildProcess;
  output = '';
  /** Port of /metrics, /healthz and /readyz, from the start line; null when metrics are off. */
  metricsPort: number | null = null;

  private constructor(
    readonly port: number,
    readonly dataDir: string,
    private readonly env: Record<string, string>,
    private readonly ownsDataDir: boolean,
    private readonly args: string[],
  ) {}

  static async start(options: BrokerProcessOptions = {}): Promise<BrokerProcess> {
    const port = options.port ?? (await freePort());
    const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'kafscale-broker-'));
    const broker = new BrokerProcess(port, dataDir, options.env ?? {}, !options.dataDir, [
      ...(options.nodeArgs ?? []),
      ...(options.compiled ? [COMPILED_BIN] : ['--import', 'tsx', SOURCE_BIN]),
    ]);
    await broker.launch();
    return broker;
  }

  get bootstrap(): string {
    return `127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  private async launch(): Promise<void> {
    this.output = '';
    const child = spawn(process.execPath, this.args, {
      env: {
        ...IMAGE_ENV,
        ...process.env,
        KAFSCALE_BROKER_PORT: String(this.port),
        KAFSCALE_DATA_DIR: this.dataDir,
        KAFSCALE_LOG_LEVEL: 'warn',
        // A free port per process: brokers of parallel tests must not fight over :9093.
        KAFSCALE_METRICS_ADDR: '127.0.0.1:0',
        ...this.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    const onOutput = (chunk: Buffer) => {
      this.output += chunk.toString();
      if (this.output.length > 1_000_000) this.output = this.output.slice(-500_000);
    };
    child.stdout!.on('data', onOutput);
    child.stderr!.on('data', onOutput);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`broker did not start in time:\n${this.output}`)),
        60_000,
      );
      const check = () => {
        // The whole start line: its end names the metrics address.
        if (/listening on[^\n]*\n/.test(this.output)) {
          const metrics = /metrics: http:\/\/[^\s]*:(\d+)\/metrics/.exec(this.output);
          this.metricsPort = metrics ? Number(metrics[1]) : null;
          clearTimeout(timer);
          child.stdout!.off('data', check);
          resolve();
        }
      };
      child.stdout!.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`broker exited with ${code} before listening:\n${this.output}`));
      });
    });
  }

  /** SIGKILL: no flush, no goodbye (a crash). */
  async kill9(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** SIGTERM: graceful shutdown. Resolves with the exit code. */
  async stop(): Promise<number | null> {
    return this.signal('SIGTERM');
  }

  private async signal(signal: NodeJS.Signals): Promise<number | null> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null)
      return child?.exitCode ?? null;
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    );
    child.kill(signal);
    const code = await exited;
    this.child = undefined;
    return code;
  }

  /** Starts again on the same port and data directory. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch();
  }

  async relaunch(): Promise<void> {
    await this.launch();
  }

  /** Stops the process and removes a temp data directory it created. */
  async destroy(): Promise<void> {
    await this.signal('SIGKILL');
    if (this.ownsDataDir) fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}
