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

/**
 * Where the operator remembers which fields it set on an object: the map keys of what it
 * applied, without values (Secrets stay out of annotations), lists and scalars as leaves.
 */
export const OWNED_FIELDS_ANNOTATION = 'kafscale.io/owned-fields';

export type FieldTree = { [key: string]: FieldTree | 1 };

/** The fields `desired` sets: maps are walked key by key, anything else is one field. */
export function fieldTree(desired: Json): FieldTree {
  const tree: FieldTree = {};
  for (const [k, v] of Object.entries(desired)) {
    if (v === undefined) continue;
    tree[k] = isObj(v) && Object.keys(v).length > 0 ? fieldTree(v) : 1;
  }
  return tree;
}

/**
 * `live` without the fields the operator set last time (`previous`) and sets no more
 * (`current`): a removed annotation, label, ConfigMap key or optional field goes, while fields it
 * never set stay. A field in `keep` is left even when the operator stops setting it, because
 * its value passes to another owner (a Deployment's replicas to the HorizontalPodAutoscaler).
 */
export function prune(
  live: unknown,
  previous: FieldTree,
  current: FieldTree,
  keep: string[][] = [],
  path: string[] = [],
): unknown {
  if (!isObj(live)) return live;
  const out: Json = { ...live };
  for (const [k, was] of Object.entries(previous)) {
    const now = current[k];
    const at = [...path, k];
    if (was !== 1 && now !== 1) {
      if (k in out) out[k] = prune(out[k], was, now ?? {}, keep, at);
    } else if (now === undefined && !keep.some((p) => p.join('.') === at.join('.'))) {
      delete out[k];
    }
  }
  return out;
}

function ownedFields(o: KubernetesObject | undefined): FieldTree {
  const text = o?.metadata?.annotations?.[OWNED_FIELDS_ANNOTATION];
  if (!text) return {};
  try {
    const tree: unknown = JSON.parse(text);
    return isObj(tree) ? (tree as FieldTree) : {};
  } catch {
    return {};
  }
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
   * Makes the object carry the desired fields, a three-way merge of what the operator set last
   * time (the owned-fields annotation), what it sets now and what is there: fields it stopped
   * setting are removed, fields others set are kept (`keep`: see prune). The update sends the
   * resourceVersion it read, so a concurrent writer makes it fail with 409 (the reconcile is
   * retried) instead of being overwritten; a no-op is not written at all.
   */
  async apply(
    desired: KubernetesObject,
    keep: string[][] = [],
  ): Promise<{ outcome: SyncOutcome; object: KubernetesObject }> {
    const fields = fieldTree(desired as Json);
    const annotated: KubernetesObject = {
      ...desired,
      metadata: {
        ...desired.metadata,
        annotations: {
          ...desired.metadata?.annotations,
          [OWNED_FIELDS_ANNOTATION]: JSON.stringify(fields),
        },
      },
    };
    const existing = await this.read(desired);
    if (!existing) {
      return { outcome: 'created', object: await this.client.create(annotated) };
    }
    const pruned = prune(existing, ownedFields(existing), fields, keep);
    const merged = overlay(pruned, annotated) as KubernetesObject;
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
