// The three PATCH flavours that are pure functions of (live object, patch): JSON merge patch
// (RFC 7386), JSON patch (RFC 6902) and strategic merge patch for built-in kinds.
import { ApiError, badRequest } from './errors.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const clone = <T>(v: T): T => structuredClone(v);

export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return clone(patch);
  const out: Obj = isObj(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// ---- RFC 6902 ----

interface Op {
  op: string;
  path: string;
  from?: string;
  value?: unknown;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/'))
    throw badRequest(
      `the server rejected our request due to an error in our request: invalid JSON pointer "${path}"`,
    );
  return path
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: unknown, path: string[], op: string): [Obj | unknown[], string] {
  let cur: unknown = doc;
  for (const seg of path.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[Number(seg)];
    else if (isObj(cur)) cur = cur[seg];
    else cur = undefined;
    if (cur === undefined)
      throw patchFailed(
        `${op} operation does not apply: doc is missing path: "/${path.join('/')}"`,
      );
  }
  if (!isObj(cur) && !Array.isArray(cur))
    throw patchFailed(`${op} operation does not apply: doc is missing path: "/${path.join('/')}"`);
  return [cur, path[path.length - 1]];
}

const patchFailed = (msg: string): ApiError => new ApiError(422, 'Invalid', msg);

function getAt(doc: unknown, path: string[]): unknown {
  let cur = doc;
  for (const seg of path) {
    if (Array.isArray(cur)) cur = cur[Number(seg)];
    else if (isObj(cur)) cur = cur[seg];
    else return undefined;
  }
  return cur;
}

function arrayIndex(arr: unknown[], seg: string, forInsert: boolean): number {
  if (seg === '-' && forInsert) return arr.length;
  if (!/^(0|[1-9][0-9]*)$/.test(seg)) throw patchFailed(`invalid array index "${seg}"`);
  const i = Number(seg);
  if (i > arr.length || (!forInsert && i === arr.length))
    throw patchFailed(`array index ${i} out of bounds`);
  return i;
}

function addAt(doc: unknown, path: string[], value: unknown, op: string): unknown {
  if (path.length === 0) return clone(value);
  const [parent, last] = parentOf(doc, path, op);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, true), 0, clone(value));
  else parent[last] = clone(value);
  return doc;
}

function removeAt(doc: unknown, path: string[], op: string): unknown {
  const [parent, last] = parentOf(doc, path, op);
  if (Array.isArray(parent)) {
    parent.splice(arrayIndex(parent, last, false), 1);
  } else {
    if (!(last in parent))
      throw patchFailed(`${op} operation does not apply: doc is missing key: /${path.join('/')}`);
    delete parent[last];
  }
  return doc;
}

export function jsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw badRequest('json patch must be an array of operations');
  let doc = clone(target);
  for (const raw of ops as Op[]) {
    const path = pointer(raw.path ?? '');
    switch (raw.op) {
      case 'add':
        doc = addAt(doc, path, raw.value, 'add');
        break;
      case 'remove':
        doc = removeAt(doc, path, 'remove');
        break;
      case 'replace':
        if (getAt(doc, path) === undefined)
          throw patchFailed(`replace operation does not apply: doc is missing key: ${raw.path}`);
        doc =
          path.length === 0
            ? clone(raw.value)
            : (removeAt(doc, path, 'replace'), addAt(doc, path, raw.value, 'replace'));
        break;
      case 'move': {
        const from = pointer(raw.from ?? '');
        const value = getAt(doc, from);
        if (value === undefined)
          throw patchFailed(`move operation does not apply: doc is missing from path: ${raw.from}`);
        doc = addAt(removeAt(doc, from, 'move'), path, value, 'move');
        break;
      }
      case 'copy': {
        const value = getAt(doc, pointer(raw.from ?? ''));
        if (value === undefined)
          throw patchFailed(`copy operation does not apply: doc is missing from path: ${raw.from}`);
        doc = addAt(doc, path, value, 'copy');
        break;
      }
      case 'test':
        if (JSON.stringify(getAt(doc, path)) !== JSON.stringify(raw.value)) {
          throw patchFailed(`testing value ${raw.path} failed: test failed`);
        }
        break;
      default:
        throw badRequest(`Unexpected kind: ${String(raw.op)}`);
    }
  }
  return doc;
}

// ---- strategic merge ----

/**
 * The patchMergeKey of the built-in list fields the operator and kubectl touch, keyed by field
 * name. `ports` depends on the parent: containers key them by containerPort, Services by port.
 * Lists not named here are replaced whole, like atomic lists in the real types.
 */
export function strategicMergeKey(path: string[], field: string): string | 'set' | undefined {
  switch (field) {
    case 'containers':
    case 'initContainers':
    case 'ephemeralContainers':
    case 'volumes':
    case 'env':
    case 'imagePullSecrets':
      return 'name';
    case 'volumeMounts':
      return 'mountPath';
    case 'volumeDevices':
      return 'devicePath';
    case 'conditions':
      return 'type';
    case 'ownerReferences':
      return 'uid';
    case 'hostAliases':
      return 'ip';
    case 'topologySpreadConstraints':
      return 'topologyKey';
    case 'ports':
      return path.some((p) => p === 'containers' || p === 'initContainers')
        ? 'containerPort'
        : 'port';
    case 'finalizers':
      return path.length === 1 && path[0] === 'metadata' ? 'set' : undefined;
    default:
      return undefined;
  }
}

const DIRECTIVE = '$patch';
const ORDER = '$setElementOrder/';
const DELETE_PRIMITIVE = '$deleteFromPrimitiveList/';
const RETAIN = '$retainKeys';

export function strategicMergePatch(target: unknown, patch: unknown): unknown {
  return smpMap(isObj(target) ? target : {}, isObj(patch) ? patch : {}, []);
}

function smpMap(target: Obj, patch: Obj, path: string[]): Obj | undefined {
  const directive = patch[DIRECTIVE];
  if (directive === 'delete') return undefined;
  if (directive === 'replace') {
    const rest = { ...patch };
    delete rest[DIRECTIVE];
    return stripDirectives(rest) as Obj;
  }
  const out: Obj = { ...target };
  const orders: [string, unknown[]][] = [];
  for (const [k, v] of Object.entries(patch)) {
    if (k === DIRECTIVE || k === RETAIN) continue;
    if (k.startsWith(ORDER)) {
      if (Array.isArray(v)) orders.push([k.slice(ORDER.length), v]);
      continue;
    }
    if (k.startsWith(DELETE_PRIMITIVE)) {
      const field = k.slice(DELETE_PRIMITIVE.length);
      const drop = new Set((Array.isArray(v) ? v : []).map((x) => JSON.stringify(x)));
      if (Array.isArray(out[field])) {
        out[field] = (out[field] as unknown[]).filter((x) => !drop.has(JSON.stringify(x)));
      }
      continue;
    }
    if (v === null) {
      delete out[k];
    } else if (isObj(v)) {
      const merged = smpMap(isObj(out[k]) ? (out[k] as Obj) : {}, v, [...path, k]);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else if (Array.isArray(v)) {
      out[k] = smpList(Array.isArray(out[k]) ? (out[k] as unknown[]) : [], v, path, k);
    } else {
      out[k] = v;
    }
  }
  for (const [field, order] of orders) {
    if (Array.isArray(out[field]))
      out[field] = applyOrder(out[field] as unknown[], order, path, field);
  }
  const retain = patch[RETAIN];
  if (Array.isArray(retain)) {
    for (const k of Object.keys(out)) if (!retain.includes(k)) delete out[k];
  }
  return out;
}

function smpList(target: unknown[], patch: unknown[], path: string[], field: string): unknown[] {
  const key = strategicMergeKey(path, field);
  if (patch.some((p) => isObj(p) && p[DIRECTIVE] === 'replace')) {
    return patch.filter((p) => !(isObj(p) && p[DIRECTIVE] === 'replace')).map(stripDirectives);
  }
  if (key === 'set') {
    const out = [...target];
    for (const item of patch)
      if (!out.some((x) => JSON.stringify(x) === JSON.stringify(item))) out.push(item);
    return out;
  }
  if (!key) return patch.map(stripDirectives);
  const out = target.map((t) => clone(t));
  for (const item of patch) {
    if (!isObj(item)) continue;
    const idx = out.findIndex((t) => isObj(t) && t[key] === item[key]);
    if (item[DIRECTIVE] === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) {
      const merged = smpMap(out[idx] as Obj, item, [...path, field]);
      if (merged === undefined) out.splice(idx, 1);
      else out[idx] = merged;
    } else {
      out.push(stripDirectives(item));
    }
  }
  return out;
}

/** `$setElementOrder` lists the merge keys in the order the applier wants them. */
function applyOrder(list: unknown[], order: unknown[], path: string[], field: string): unknown[] {
  const key = strategicMergeKey(path, field);
  const identity = (x: unknown): string =>
    JSON.stringify(key && key !== 'set' && isObj(x) ? x[key] : x);
  const wanted = order.map(identity);
  const ranked = list.map((item, i) => {
    const pos = wanted.indexOf(identity(item));
    return { item, rank: pos >= 0 ? pos : wanted.length + i };
  });
  return ranked.sort((a, b) => a.rank - b.rank).map((r) => r.item);
}

function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObj(v)) return v;
  const out: Obj = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === DIRECTIVE || k === RETAIN || k.startsWith(ORDER) || k.startsWith(DELETE_PRIMITIVE))
      continue;
    out[k] = stripDirectives(x);
  }
  return out;
}
