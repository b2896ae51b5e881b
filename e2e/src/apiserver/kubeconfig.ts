// A kubeconfig for the emulator: plain HTTP, no credentials, one context. client-node 1.x
// refuses http:// servers unless insecure-skip-tls-verify is set; kubectl ignores the flag.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

export function kubeconfigYaml(server: string, namespace = 'default'): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'emulator', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'emulator', user: {} }],
    contexts: [{ name: 'emulator', context: { cluster: 'emulator', user: 'emulator', namespace } }],
    'current-context': 'emulator',
    preferences: {},
  });
}

/** Writes the kubeconfig to `file`, or to a fresh temporary directory; returns its path. */
export function writeKubeconfig(server: string, file?: string, namespace?: string): string {
  const path = file ?? join(mkdtempSync(join(tmpdir(), 'kafscale-kubeconfig-')), 'config');
  writeFileSync(path, kubeconfigYaml(server, namespace), { mode: 0o600 });
  return path;
}
