// What each container image means on this machine. No container runtime runs here, so an image
// is a set of programs on the host: the broker and operator images run this repository's sources
// with tsx (as their Dockerfiles run the built output), the etcd image runs Debian's etcd.
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const TSX = createRequire(import.meta.url).resolve('tsx');
const PRELOAD = join(REPO_ROOT, 'e2e/src/runner/pod-preload.mjs');

export interface ImageRuntime {
  /** Programs on the image's PATH: name -> argv that runs it here. */
  binaries: Record<string, string[]>;
  /** The image's ENTRYPOINT, for containers that give only `args`. */
  entrypoint?: string[];
  workingDir: string;
  /** Node programs get the preload that binds wildcard listeners to the pod's address. */
  node: boolean;
  /** HTTP probe paths the host's program serves under another name. */
  probePaths?: Record<string, string>;
}

const nodeProgram = (source: string) => [process.execPath, join(REPO_ROOT, source)];

const IMAGES: { match: RegExp; runtime: ImageRuntime }[] = [
  {
    match: /(^|\/)kafscale\/broker(:|@|$)|(^|\/)kafscale-broker(:|@|$)/,
    runtime: {
      binaries: {
        'kafscale-broker': nodeProgram('broker/src/bin/kafscale-broker.ts'),
        kafscale: nodeProgram('broker/src/bin/kafscale.ts'),
      },
      entrypoint: ['kafscale-broker'],
      workingDir: REPO_ROOT,
      node: true,
    },
  },
  {
    match: /(^|\/)kafscale\/operator(:|@|$)|(^|\/)kafscale-operator(:|@|$)/,
    runtime: {
      binaries: { 'kafscale-operator': nodeProgram('operator/src/main.ts') },
      entrypoint: ['kafscale-operator'],
      workingDir: REPO_ROOT,
      node: true,
    },
  },
  {
    // Debian's etcd is 3.4, which serves /health but not the /livez and /readyz of 3.5.
    match: /(^|\/)etcd(:|@|$)/,
    runtime: {
      binaries: { etcd: [process.env.ETCD_BINARY ?? '/usr/bin/etcd'] },
      entrypoint: ['etcd'],
      workingDir: '/',
      node: false,
      probePaths: { '/livez': '/health', '/readyz': '/health' },
    },
  },
];

export function imageRuntime(image: string): ImageRuntime | undefined {
  return IMAGES.find((i) => i.match.test(image))?.runtime;
}

/** NODE_OPTIONS for a Node image: tsx for the TypeScript sources, then the pod preload. */
export function nodeOptions(): string {
  return `--import=${TSX} --import=${PRELOAD}`;
}

/** Writes the image's programs as scripts into `dir`, which goes first on the pod's PATH. */
export function writeBinaries(runtime: ImageRuntime, dir: string): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, argv] of Object.entries(runtime.binaries)) {
    const quoted = argv.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
    const file = join(dir, name);
    writeFileSync(file, `#!/bin/sh\nexec ${quoted} "$@"\n`);
    chmodSync(file, 0o755);
  }
}
