// Server-side apply and field ownership. A field set is a set of leaf paths written in the
// fieldsV1 notation (`f:spec`, `k:{"name":"c"}`, `v:"x"`); lists without merge keys are atomic
// leaves. Good enough for kubectl's `apply --server-side` and an operator's apply calls:
// ownership moves on updates, conflicts are 409 unless forced, and fields an applier stops
// sending are removed when nobody else owns them.
import { ApiError } from './errors.js';
import type { JsonObject, KObject, ManagedFieldsEntry } from './types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Merge keys of a list field, `set` for lists of scalars merged as sets, undefined if atomic. */
export type ListKeys = (path: string[], field: string) => string[] | 'set' | undefined;

/** metadata fields the server owns; nobody manages them. */
const SERVER_META = new Set([
  'name',
  'namespace',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'managedFields',
  'selfLink',
  'generateName',
]);

export interface Scope {
  listKeys: ListKeys;
  /** Top-level fields this endpoint does not write: `status` on the main resource, etc. */
  ignoreTop: (field: string) => boolean;
}

export function fieldSet(obj: unknown, scope: Scope): Set<string> {
  const out = new Set<string>();
  if (!isObj(obj)) return out;
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || scope.ignoreTop(k)) continue;
    if (k === 'metadata' && isObj(v)) {
      for (const [mk, mv] of Object.entries(v)) {
        if (SERVER_META.has(mk)) continue;
        walk(mv, ['f:metadata', `f:${mk}`], ['metadata'], mk, scope, out);
      }
      continue;
    }
    walk(v, [`f:${k}`], [], k, scope, out);
  }
  return out;
}

function walk(
  v: unknown,
  at: string[],
  names: string[],
  field: string,
  scope: Scope,
  out: Set<string>,
): void {
  if (isObj(v) && Object.keys(v).length > 0) {
    for (const [k, x] of Object.entries(v))
      walk(x, [...at, `f:${k}`], [...names, field], k, scope, out);
    return;
  }
  if (Array.isArray(v) && v.length > 0) {
    const keys = scope.listKeys(names, field);
    if (keys === 'set') {
      for (const item of v) out.add(JSON.stringify([...at, `v:${JSON.stringify(item)}`]));
      return;
    }
    if (keys && v.every((item) => isObj(item) && keys.every((k) => item[k] !== undefined))) {
      for (const item of v as Obj[]) {
        const itemAt = [...at, itemKey(item, keys)];
        out.add(JSON.stringify(itemAt));
        for (const [k, x] of Object.entries(item)) {
          walk(x, [...itemAt, `f:${k}`], [...names, field], k, scope, out);
        }
      }
      return;
    }
  }
  out.add(JSON.stringify(at));
}

function itemKey(item: Obj, keys: string[]): string {
  const sorted: Obj = {};
  for (const k of [...keys].sort()) sorted[k] = item[k];
  return `k:${JSON.stringify(sorted)}`;
}

/** The value at a fieldsV1 path, or undefined. */
export function valueAt(obj: unknown, path: string[]): unknown {
  let cur: unknown = obj;
  for (const seg of path) {
    if (cur === undefined) return undefined;
    if (seg.startsWith('f:')) cur = isObj(cur) ? cur[seg.slice(2)] : undefined;
    else if (seg.startsWith('k:')) {
      const want = JSON.parse(seg.slice(2)) as Obj;
      cur = Array.isArray(cur)
        ? cur.find((i) => isObj(i) && Object.entries(want).every(([k, x]) => i[k] === x))
        : undefined;
    } else if (seg.startsWith('v:')) {
      const want = seg.slice(2);
      cur = Array.isArray(cur) ? cur.find((i) => JSON.stringify(i) === want) : undefined;
    }
  }
  return cur;
}

export function toFieldsV1(set: Set<string>): JsonObject {
  const root: JsonObject = {};
  for (const raw of set) {
    const path = JSON.parse(raw) as string[];
    let node = root;
    for (const seg of path) {
      node[seg] ??= {};
      node = node[seg] as JsonObject;
      if (seg.startsWith('k:')) node['.'] ??= {};
    }
  }
  return root;
}

export function fromFieldsV1(fields: unknown): Set<string> {
  const out = new Set<string>();
  const visit = (node: unknown, at: string[]): void => {
    const children = isObj(node) ? Object.keys(node).filter((k) => k !== '.') : [];
    if (
      children.length === 0 ||
      (isObj(node) && '.' in node && at.length > 0 && at[at.length - 1].startsWith('k:'))
    ) {
      if (at.length > 0) out.add(JSON.stringify(at));
    }
    for (const k of children) visit((node as Obj)[k], [...at, k]);
  };
  visit(fields, []);
  return out;
}

const sameValue = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

function entriesOf(obj: KObject): ManagedFieldsEntry[] {
  return obj.metadata.managedFields ?? [];
}

function setEntry(
  entries: ManagedFieldsEntry[],
  manager: string,
  operation: 'Apply' | 'Update',
  apiVersion: string,
  subresource: string | undefined,
  fields: Set<string>,
): ManagedFieldsEntry[] {
  const rest = entries.filter(
    (e) => !(e.manager === manager && e.operation === operation && e.subresource === subresource),
  );
  if (fields.size === 0) return rest;
  const entry: ManagedFieldsEntry = {
    manager,
    operation,
    apiVersion,
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    fieldsType: 'FieldsV1',
    fieldsV1: toFieldsV1(fields),
  };
  if (subresource) entry.subresource = subresource;
  return [...rest, entry];
}

/**
 * After a non-apply write: fields the writer changed become its own (and leave everyone else),
 * and fields that vanished leave every set.
 */
export function recordUpdate(
  before: KObject | undefined,
  after: KObject,
  manager: string,
  apiVersion: string,
  subresource: string | undefined,
  scope: Scope,
): void {
  const now = fieldSet(after, scope);
  const changed = new Set<string>();
  for (const p of now) {
    if (!before || !sameValue(valueAt(before, JSON.parse(p)), valueAt(after, JSON.parse(p)))) {
      changed.add(p);
    }
  }
  const kept: ManagedFieldsEntry[] = [];
  let mine = new Set<string>();
  for (const e of before ? entriesOf(before) : []) {
    const fields = fromFieldsV1(e.fieldsV1);
    for (const p of [...fields]) {
      if (changed.has(p) || valueAt(after, JSON.parse(p)) === undefined) fields.delete(p);
    }
    if (e.manager === manager && e.operation === 'Update' && e.subresource === subresource) {
      mine = fields;
      continue;
    }
    if (fields.size > 0) kept.push({ ...e, fieldsV1: toFieldsV1(fields) });
  }
  for (const p of changed) mine.add(p);
  after.metadata.managedFields = setEntry(kept, manager, 'Update', apiVersion, subresource, mine);
}

export interface ApplyRequest {
  live: KObject | undefined;
  applied: KObject;
  manager: string;
  force: boolean;
  apiVersion: string;
  subresource?: string;
  scope: Scope;
}

/** Merges an apply configuration into the live object, or throws 409 on conflicts. */
export function serverSideApply(req: ApplyRequest): KObject {
  const { live, applied, manager, scope } = req;
  const mineNow = fieldSet(applied, scope);
  if (!live) {
    const created = structuredClone(applied);
    created.metadata.managedFields = setEntry(
      [],
      manager,
      'Apply',
      req.apiVersion,
      req.subresource,
      mineNow,
    );
    return created;
  }
  const entries = entriesOf(live).map((e) => ({ e, fields: fromFieldsV1(e.fieldsV1) }));
  const self = (e: ManagedFieldsEntry): boolean =>
    e.manager === manager && e.operation === 'Apply' && e.subresource === req.subresource;
  const conflicts: { manager: string; apiVersion: string; path: string }[] = [];
  for (const { e, fields } of entries) {
    if (self(e) || e.manager === manager) continue;
    for (const p of mineNow) {
      if (
        fields.has(p) &&
        !sameValue(valueAt(applied, JSON.parse(p)), valueAt(live, JSON.parse(p)))
      ) {
        conflicts.push({ manager: e.manager, apiVersion: e.apiVersion, path: p });
      }
    }
  }
  if (conflicts.length > 0 && !req.force) throw conflictError(conflicts);
  if (req.force) {
    for (const c of conflicts) {
      for (const x of entries) if (x.e.manager === c.manager) x.fields.delete(c.path);
    }
  }
  const previous = entries.find((x) => self(x.e))?.fields ?? new Set<string>();
  let merged = mergeApplied(live, applied, [], '', scope) as KObject;
  const ownedByOthers = new Set<string>();
  for (const x of entries) if (!self(x.e)) for (const p of x.fields) ownedByOthers.add(p);
  for (const p of previous) {
    if (mineNow.has(p) || ownedByOthers.has(p)) continue;
    merged = removePath(merged, JSON.parse(p) as string[], ownedByOthers, mineNow) as KObject;
  }
  let out: ManagedFieldsEntry[] = [];
  for (const x of entries) {
    if (self(x.e)) continue;
    if (x.fields.size > 0) out.push({ ...x.e, fieldsV1: toFieldsV1(x.fields) });
  }
  out = setEntry(out, manager, 'Apply', req.apiVersion, req.subresource, mineNow);
  merged.metadata.managedFields = out;
  return merged;
}

function conflictError(
  conflicts: { manager: string; apiVersion: string; path: string }[],
): ApiError {
  const render = (p: string): string =>
    (JSON.parse(p) as string[])
      .map((s) => (s.startsWith('f:') ? `.${s.slice(2)}` : `[${s.slice(2)}]`))
      .join('');
  const lines = conflicts.map(
    (c) => `conflict with "${c.manager}" using ${c.apiVersion}: ${render(c.path)}`,
  );
  const head = `Apply failed with ${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'}: `;
  const message =
    conflicts.length === 1 ? head + lines[0] : head + '\n' + lines.map((l) => `- ${l}`).join('\n');
  return new ApiError(409, 'Conflict', message, {
    causes: conflicts.map((c) => ({
      reason: 'FieldManagerConflict',
      message: `conflict with "${c.manager}" using ${c.apiVersion}`,
      field: render(c.path),
    })),
  });
}

function mergeApplied(
  live: unknown,
  applied: unknown,
  names: string[],
  field: string,
  scope: Scope,
): unknown {
  if (isObj(applied)) {
    const out: Obj = isObj(live) ? { ...live } : {};
    const atRoot = field === '' && names.length === 0;
    const atMeta = field === 'metadata' && names.length === 0;
    const childNames = atRoot ? [] : [...names, field];
    for (const [k, v] of Object.entries(applied)) {
      if (atRoot && scope.ignoreTop(k)) continue;
      if (atMeta && SERVER_META.has(k)) {
        if (out[k] === undefined && (k === 'name' || k === 'namespace')) out[k] = v;
        continue;
      }
      out[k] = mergeApplied(out[k], v, childNames, k, scope);
    }
    return out;
  }
  if (Array.isArray(applied)) {
    const keys = scope.listKeys(names, field);
    const current = Array.isArray(live) ? [...live] : [];
    if (keys === 'set') {
      for (const item of applied) if (!current.some((x) => sameValue(x, item))) current.push(item);
      return current;
    }
    if (!keys) return structuredClone(applied);
    for (const item of applied) {
      const idx = current.findIndex(
        (c) => isObj(c) && isObj(item) && keys.every((k) => c[k] === item[k]),
      );
      if (idx >= 0) current[idx] = mergeApplied(current[idx], item, names, field, scope);
      else current.push(structuredClone(item));
    }
    return current;
  }
  return structuredClone(applied);
}

function removePath(obj: unknown, path: string[], others: Set<string>, mine: Set<string>): unknown {
  const owned = (prefix: string[]): boolean => {
    const head = JSON.stringify(prefix).slice(0, -1);
    for (const p of [...others, ...mine]) if (p.startsWith(head)) return true;
    return false;
  };
  // A keyed list item nobody else touches goes as a whole.
  for (let i = path.length - 1; i >= 0; i--) {
    if (path[i].startsWith('k:') && !owned(path.slice(0, i + 1))) {
      return deleteAt(obj, path.slice(0, i + 1));
    }
  }
  return deleteAt(obj, path);
}

function deleteAt(obj: unknown, path: string[]): unknown {
  const root = structuredClone(obj);
  const parent = valueAt(root, path.slice(0, -1));
  const last = path[path.length - 1];
  if (last.startsWith('f:') && isObj(parent)) delete parent[last.slice(2)];
  else if (Array.isArray(parent)) {
    const target = valueAt(parent, [last]);
    const idx = parent.indexOf(target);
    if (idx >= 0) parent.splice(idx, 1);
  }
  return root;
}
