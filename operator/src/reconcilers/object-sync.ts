import {
  KubernetesObjectApi,
  type KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { errorCode } from '../runtime/errors.js';

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `existing` with every field of `desired` laid over it: maps merge key by key, everything else
 * (lists included) is replaced. Fields only the server or other controllers set (a Service's
 * clusterIP, defaults, annotations added by tools, replicas the operator leaves out) survive.
 */
export function overlay(existing: unknown, desired: unknown): unknown {
  if (!isObj(existing) || !isObj(desired)) return desired;
  const out: Json = { ...existing };
  for (const [k, v] of Object.entries(desired)) {
    if (v === undefined) continue;
    out[k] = k in existing ? overlay(existing[k], v) : v;
  }
  return out;
}

function stable(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stable).join(',')}]`;
  if (isObj(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stable(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

export type SyncOutcome = 'created' | 'updated' | 'unchanged';

/** Creates, updates and deletes owned objects of any kind through the discovery-driven client. */
export class ObjectSync {
  private readonly client: KubernetesObjectApi;

  constructor(kubeConfig: KubeConfig) {
    this.client = KubernetesObjectApi.makeApiClient(kubeConfig);
  }

  async read(ref: KubernetesObject): Promise<KubernetesObject | undefined> {
    try {
      return await this.client.read({
        apiVersion: ref.apiVersion!,
        kind: ref.kind!,
        metadata: { name: ref.metadata!.name!, namespace: ref.metadata!.namespace },
      });
    } catch (error) {
      if (errorCode(error) === 404) return undefined;
      throw error;
    }
  }

  /**
   * Makes the object carry the desired fields. The update sends the resourceVersion it read, so
   * a concurrent writer makes it fail with 409 (the reconcile is retried) instead of being
   * overwritten; a no-op is not written at all.
   */
  async apply(
    desired: KubernetesObject,
  ): Promise<{ outcome: SyncOutcome; object: KubernetesObject }> {
    const existing = await this.read(desired);
    if (!existing) {
      return { outcome: 'created', object: await this.client.create(desired) };
    }
    const merged = overlay(existing, desired) as KubernetesObject;
    merged.metadata = { ...merged.metadata, resourceVersion: existing.metadata?.resourceVersion };
    if (stable(merged) === stable(existing)) return { outcome: 'unchanged', object: existing };
    return { outcome: 'updated', object: await this.client.replace(merged) };
  }

  /** Deletes the object if it exists and `uid` owns it; objects someone else made are left. */
  async deleteOwned(ref: KubernetesObject, ownerUid: string): Promise<boolean> {
    const existing = await this.read(ref);
    if (!existing?.metadata?.ownerReferences?.some((o) => o.uid === ownerUid)) return false;
    try {
      await this.client.delete(existing, undefined, undefined, undefined, undefined, 'Background');
      return true;
    } catch (error) {
      if (errorCode(error) === 404) return false;
      throw error;
    }
  }
}
