// The controllers a real control plane runs for deletion: the garbage collector (ownerReference
// cascades: background, foreground with blockOwnerDeletion, orphan), the namespace controller
// (a terminating namespace empties itself, then goes) and CRD cleanup (instances go before their
// definition). They run after each write, asynchronously as in a real cluster, and act through
// the same delete/update paths as API calls, so finalizers hold everything up the same way.
import type { KObject, ResourceDef } from './types.js';

export type Propagation = 'Background' | 'Foreground' | 'Orphan';

export interface Entry {
  def: ResourceDef;
  obj: KObject;
}

export interface ClusterOps {
  entries(): Entry[];
  /** Deletes as a DELETE request would; missing objects are ignored. */
  delete(def: ResourceDef, obj: KObject, policy: Propagation): void;
  /** Rewrites metadata (finalizers, ownerReferences) of the current object. */
  mutate(def: ResourceDef, obj: KObject, change: (o: KObject) => void): void;
  /** Instances stored under a CRD's group and plural. */
  instancesOf(crd: KObject): Entry[];
}

const NAMESPACE_FINALIZER = 'kubernetes';
export const CRD_CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io';

const hasFinalizer = (o: KObject, f: string): boolean => (o.metadata.finalizers ?? []).includes(f);
const dropFinalizer = (f: string) => (o: KObject) => {
  o.metadata.finalizers = (o.metadata.finalizers ?? []).filter((x) => x !== f);
};

/** One pass over the cluster; writes it makes trigger the next pass. */
export function collectGarbage(ops: ClusterOps): void {
  const all = ops.entries();
  const byUid = new Map(all.map((e) => [e.obj.metadata.uid, e]));
  const dependents = new Map<string, Entry[]>();
  for (const e of all) {
    for (const ref of e.obj.metadata.ownerReferences ?? []) {
      dependents.set(ref.uid, [...(dependents.get(ref.uid) ?? []), e]);
    }
  }

  for (const e of all) {
    const { obj, def } = e;
    const uid = obj.metadata.uid ?? '';
    const deps = dependents.get(uid) ?? [];
    if (obj.metadata.deletionTimestamp && hasFinalizer(obj, 'orphan')) {
      for (const d of deps) {
        ops.mutate(d.def, d.obj, (o) => {
          o.metadata.ownerReferences = (o.metadata.ownerReferences ?? []).filter(
            (r) => r.uid !== uid,
          );
        });
      }
      ops.mutate(def, obj, dropFinalizer('orphan'));
      continue;
    }
    if (obj.metadata.deletionTimestamp && hasFinalizer(obj, 'foregroundDeletion')) {
      for (const d of deps)
        if (!d.obj.metadata.deletionTimestamp) ops.delete(d.def, d.obj, 'Foreground');
      const blocking = deps.some((d) =>
        (d.obj.metadata.ownerReferences ?? []).some((r) => r.uid === uid && r.blockOwnerDeletion),
      );
      if (!blocking) ops.mutate(def, obj, dropFinalizer('foregroundDeletion'));
      continue;
    }
    const refs = obj.metadata.ownerReferences ?? [];
    if (refs.length > 0) {
      const absent = refs.filter((r) => !byUid.has(r.uid));
      if (absent.length === refs.length) {
        if (!obj.metadata.deletionTimestamp) ops.delete(def, obj, 'Background');
      } else if (absent.length > 0) {
        ops.mutate(def, obj, (o) => {
          o.metadata.ownerReferences = refs.filter((r) => byUid.has(r.uid));
        });
      }
    }
    if (def.group === '' && def.plural === 'namespaces' && obj.metadata.deletionTimestamp) {
      const name = obj.metadata.name;
      const contents = all.filter((x) => x.def.namespaced && x.obj.metadata.namespace === name);
      for (const x of contents)
        if (!x.obj.metadata.deletionTimestamp) ops.delete(x.def, x.obj, 'Background');
      const spec = (obj.spec ?? {}) as { finalizers?: string[] };
      if (contents.length === 0 && (spec.finalizers ?? []).includes(NAMESPACE_FINALIZER)) {
        ops.mutate(def, obj, (o) => {
          o.spec = {
            ...spec,
            finalizers: (spec.finalizers ?? []).filter((f) => f !== NAMESPACE_FINALIZER),
          };
        });
      }
    }
    if (
      def.group === 'apiextensions.k8s.io' &&
      obj.metadata.deletionTimestamp &&
      hasFinalizer(obj, CRD_CLEANUP_FINALIZER)
    ) {
      const instances = ops.instancesOf(obj);
      for (const x of instances)
        if (!x.obj.metadata.deletionTimestamp) ops.delete(x.def, x.obj, 'Background');
      if (instances.length === 0) ops.mutate(def, obj, dropFinalizer(CRD_CLEANUP_FINALIZER));
    }
  }
}
