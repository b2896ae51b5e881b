import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { GROUP, VERSION, type KafScaleCluster, type KafScaleTopic } from '../api/v1alpha1.js';
import { errorCode } from '../runtime/errors.js';

export const CLUSTERS = 'kafscaleclusters';
export const TOPICS = 'kafscaletopics';

/** `kubectl annotate ksc NAME kafscale.io/paused=true` stops reconciling that one resource. */
export const PAUSED_ANNOTATION = 'kafscale.io/paused';

export function isPaused(o: { metadata: { annotations?: Record<string, string> } }): boolean {
  return o.metadata.annotations?.[PAUSED_ANNOTATION] === 'true';
}

export function splitKey(key: string): { namespace: string; name: string } {
  const i = key.indexOf('/');
  return { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

type Plural = typeof CLUSTERS | typeof TOPICS;
type Resource<P extends Plural> = P extends typeof CLUSTERS ? KafScaleCluster : KafScaleTopic;

/** Reads and writes of the kafscale.io resources, main object and status subresource. */
export class CustomResources {
  readonly api: CustomObjectsApi;

  constructor(kubeConfig: KubeConfig) {
    this.api = kubeConfig.makeApiClient(CustomObjectsApi);
  }

  async get<P extends Plural>(
    plural: P,
    namespace: string,
    name: string,
  ): Promise<Resource<P> | undefined> {
    try {
      return (await this.api.getNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace,
        plural,
        name,
      })) as Resource<P>;
    } catch (error) {
      if (errorCode(error) === 404) return undefined;
      throw error;
    }
  }

  /** PUT with the resourceVersion read: a concurrent change fails with 409 and is retried. */
  async replace<P extends Plural>(plural: P, object: Resource<P>): Promise<Resource<P>> {
    return (await this.api.replaceNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: object.metadata.namespace,
      plural,
      name: object.metadata.name,
      body: object,
    })) as Resource<P>;
  }

  async replaceStatus<P extends Plural>(plural: P, object: Resource<P>): Promise<Resource<P>> {
    return (await this.api.replaceNamespacedCustomObjectStatus({
      group: GROUP,
      version: VERSION,
      namespace: object.metadata.namespace,
      plural,
      name: object.metadata.name,
      body: object,
    })) as Resource<P>;
  }

  async list<P extends Plural>(
    plural: P,
    namespace?: string,
  ): Promise<{ items: Resource<P>[]; resourceVersion: string }> {
    const base = { group: GROUP, version: VERSION, plural };
    const body = (await (namespace
      ? this.api.listNamespacedCustomObject({ ...base, namespace })
      : this.api.listClusterCustomObject(base))) as {
      items: Resource<P>[];
      metadata: { resourceVersion: string };
    };
    return { items: body.items, resourceVersion: body.metadata.resourceVersion };
  }
}

export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]),
    );
  }
  return v;
}
