import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { kubectl } from '../../../e2e/src/tools/kubectl.js';
import {
  KubernetesObjectApi,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { parse } from 'yaml';
import type { ApiServer } from '../../../e2e/src/apiserver/index.js';
import { createOperator } from '../../src/operator.js';
import type { Manager } from '../../src/runtime/manager.js';
import { crdDirectory, CRD_FILES } from '../../src/schema/index.js';
import { eventually, startApi } from '../runtime/support.js';

/** eventually() for probes that return false or undefined until they return the value. */
export function waitFor<T>(
  probe: () => T | Promise<T>,
  what: string,
  timeoutMs = 5000,
): Promise<Exclude<T, false | undefined | null | '' | 0>> {
  return eventually(probe, what, timeoutMs) as Promise<
    Exclude<T, false | undefined | null | '' | 0>
  >;
}

export interface Harness {
  api: ApiServer;
  kc: KubeConfig;
  kubeconfig: string;
  client: KubernetesObjectApi;
  /** Runs the real kubectl against the emulator; fails on a non-zero exit. */
  ok(args: string[]): Promise<string>;
  errors: string[];
  /**
   * PUT of a resource read before (typed resources are not client-node models). The operator may
   * write the status between the read and the PUT, which is a 409 as on a real server: then the
   * same spec is put on the latest version, as a person re-running `kubectl edit` would.
   */
  replace(o: unknown): Promise<KubernetesObject>;
  startOperator(extra?: Partial<Parameters<typeof createOperator>[0]>): Promise<Manager>;
  stop(): Promise<void>;
}

export async function startHarness(): Promise<Harness> {
  const { api, kc, kubeconfig } = await startApi();
  const cacheDir = join(dirname(kubeconfig), 'cache');
  const client = KubernetesObjectApi.makeApiClient(kc);
  for (const file of Object.values(CRD_FILES)) {
    await client.create(parse(readFileSync(join(crdDirectory(), file), 'utf8')));
  }
  const managers: Manager[] = [];
  const errors: string[] = [];
  return {
    api,
    kc,
    kubeconfig,
    client,
    errors,
    async replace(o) {
      let body = o as KubernetesObject & { spec?: unknown };
      for (let attempt = 1; ; attempt++) {
        try {
          return await client.replace(body);
        } catch (e) {
          if ((e as { code?: number }).code !== 409 || attempt === 5) throw e;
          const { apiVersion, kind, metadata } = body;
          const latest = await client.read({
            apiVersion,
            kind,
            metadata: { name: metadata?.name ?? '', namespace: metadata?.namespace },
          });
          body = { ...latest, spec: body.spec };
        }
      }
    },
    async ok(args) {
      const r = await kubectl(args, { kubeconfig, cacheDir });
      if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${r.stderr}${r.stdout}`);
      return r.stdout;
    },
    async startOperator(extra = {}) {
      const manager = createOperator({
        kubeConfig: kc,
        build: { brokerImage: 'ghcr.io/kafscale/broker:test', clusterDomain: 'cluster.local' },
        namespace: 'default',
        onError: (source, e) => errors.push(`${source}: ${(e as Error).stack ?? String(e)}`),
        ...extra,
      });
      managers.push(manager);
      await manager.start();
      return manager;
    },
    async stop() {
      await Promise.all(managers.map((m) => m.stop()));
      await api.stop();
    },
  };
}

export function cluster(name: string, spec: Record<string, unknown> = {}): KubernetesObject {
  return {
    apiVersion: 'kafscale.io/v1alpha1',
    kind: 'KafScaleCluster',
    metadata: { name, namespace: 'default' },
    spec: {
      s3: { bucket: `${name}-bucket`, region: 'eu-west-1' },
      etcd: { endpoints: ['http://etcd.example:2379'] },
      ...spec,
    },
  } as KubernetesObject;
}

export async function read<T = KubernetesObject & Record<string, never>>(
  client: KubernetesObjectApi,
  apiVersion: string,
  kind: string,
  name: string,
): Promise<T | undefined> {
  try {
    return (await client.read({ apiVersion, kind, metadata: { name, namespace: 'default' } })) as T;
  } catch {
    return undefined;
  }
}
