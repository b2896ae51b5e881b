// An emulated API server plus a kubectl bound to it, with a throwaway kubeconfig and cache.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApiServer, type ApiServerOptions } from '../../src/apiserver/index.js';
import { kubectl, spawnKubectl, type RunResult } from '../../src/tools/kubectl.js';

export interface EmulatedCluster {
  api: ApiServer;
  kubeconfig: string;
  /** Runs kubectl; `input` goes to stdin (for `-f -`). */
  k(args: string[], input?: string): Promise<RunResult>;
  /** Like k() but fails the test on a non-zero exit. */
  ok(args: string[], input?: string): Promise<string>;
  spawn(args: string[]): ReturnType<typeof spawnKubectl>;
  stop(): Promise<void>;
}

export async function startCluster(options: ApiServerOptions = {}): Promise<EmulatedCluster> {
  const api = await ApiServer.start(options);
  const dir = mkdtempSync(join(tmpdir(), 'kafscale-apiserver-'));
  const kubeconfig = api.writeKubeconfig(join(dir, 'kubeconfig'));
  const opts = { kubeconfig, cacheDir: join(dir, 'cache') };
  const k = (args: string[], input?: string) => kubectl(args, { ...opts, input });
  return {
    api,
    kubeconfig,
    k,
    ok: async (args, input) => {
      const r = await k(args, input);
      if (r.code !== 0) {
        throw new Error(`kubectl ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
      }
      return r.stdout;
    },
    spawn: (args) => spawnKubectl(args, opts),
    stop: async () => {
      await api.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function eventually<T>(
  probe: () => T | Promise<T>,
  what: string,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}: ${String(last ?? '')}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A CRD with everything the emulator interprets: defaults, enum, minimum, CEL, scale. */
export const WIDGET_CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.kafscale.io
spec:
  group: example.kafscale.io
  scope: Namespaced
  names:
    plural: widgets
    singular: widget
    kind: Widget
    shortNames: [wd]
  versions:
    - name: v1alpha1
      served: true
      storage: true
      subresources:
        status: {}
        scale:
          specReplicasPath: .spec.replicas
          statusReplicasPath: .status.replicas
          labelSelectorPath: .status.selector
      additionalPrinterColumns:
        - { name: Replicas, type: integer, jsonPath: .spec.replicas }
        - { name: Size, type: string, jsonPath: .spec.size }
        - { name: Ready, type: string, jsonPath: '.status.conditions[?(@.type=="Ready")].status' }
        - { name: Age, type: date, jsonPath: .metadata.creationTimestamp }
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [size]
              x-kubernetes-validations:
                - rule: self.storageClass == oldSelf.storageClass
                  message: storageClass is immutable
                - rule: "self.size != 'large' || self.replicas <= 5"
                  message: large widgets allow at most 5 replicas
              properties:
                replicas: { type: integer, minimum: 0, default: 1 }
                size: { type: string, enum: [small, large] }
                storageClass: { type: string, default: standard }
                config:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
            status:
              type: object
              properties:
                replicas: { type: integer }
                selector: { type: string }
                conditions:
                  type: array
                  items:
                    type: object
                    properties:
                      type: { type: string }
                      status: { type: string }
`;
