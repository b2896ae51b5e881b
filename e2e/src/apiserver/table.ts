// `kubectl get` asks for meta.k8s.io/v1 Tables: the server renders the columns, so printer
// columns of CRDs (a JSONPath subset) and the familiar built-in columns are computed here.
import type { KObject, PrinterColumn, ResourceDef } from './types.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/** apimachinery's duration.HumanDuration, which is what AGE shows. */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 60 * 2) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 10) {
    const s = seconds % 60;
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`;
  }
  if (minutes < 60 * 3) return `${minutes}m`;
  const hours = Math.floor(minutes / 60);
  if (hours < 8) {
    const m = minutes % 60;
    return m === 0 ? `${hours}h` : `${hours}h${m}m`;
  }
  if (hours < 48) return `${hours}h`;
  if (hours < 24 * 8) {
    const h = hours % 24;
    return h === 0 ? `${Math.floor(hours / 24)}d` : `${Math.floor(hours / 24)}d${h}h`;
  }
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24)}d`;
  if (hours < 24 * 365 * 8) {
    const d = Math.floor(hours / 24) % 365;
    return d === 0 ? `${Math.floor(hours / 24 / 365)}y` : `${Math.floor(hours / 24 / 365)}y${d}d`;
  }
  return `${Math.floor(hours / 24 / 365)}y`;
}

const age = (o: KObject): string =>
  o.metadata.creationTimestamp
    ? humanDuration(Date.now() - Date.parse(o.metadata.creationTimestamp))
    : '<unknown>';

/**
 * `.a.b`, `.a[0]`, `.a[*].b`, `.a[?(@.k=="v")].b` and `{...}` wrappers: what printer
 * columns use in practice. Returns every match.
 */
export function jsonPath(obj: unknown, expr: string): unknown[] {
  let path = expr.trim();
  if (path.startsWith('{') && path.endsWith('}')) path = path.slice(1, -1);
  if (path.startsWith('$')) path = path.slice(1);
  const tokens = path.match(/\.[^.[\]]+|\[[^\]]*\]/g) ?? [];
  let current: unknown[] = [obj];
  for (const t of tokens) {
    const next: unknown[] = [];
    for (const c of current) {
      if (t.startsWith('.')) {
        const key = t.slice(1);
        if (isObj(c) && c[key] !== undefined) next.push(c[key]);
        continue;
      }
      const inner = t.slice(1, -1);
      if (!Array.isArray(c)) {
        const key = inner.replace(/^['"]|['"]$/g, '');
        if (isObj(c) && c[key] !== undefined) next.push(c[key]);
        continue;
      }
      if (inner === '*') next.push(...c);
      else if (/^-?\d+$/.test(inner)) {
        const i = Number(inner);
        const v = c[i < 0 ? c.length + i : i];
        if (v !== undefined) next.push(v);
      } else {
        const filter = /^\?\(@\.([\w.-]+)\s*(==|!=)\s*['"]?([^'"]*)['"]?\)$/.exec(inner);
        if (!filter) continue;
        const [, field, op, want] = filter;
        for (const item of c) {
          const got = jsonPath(item, `.${field}`)[0];
          if ((String(got) === want) === (op === '==')) next.push(item);
        }
      }
    }
    current = next;
  }
  return current;
}

interface Column {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
  cell: (o: KObject) => unknown;
}

const col = (
  name: string,
  cell: (o: KObject) => unknown,
  type = 'string',
  priority = 0,
): Column => ({
  name,
  type,
  format: name === 'Name' ? 'name' : '',
  description: name,
  priority,
  cell,
});

const nameCol = col('Name', (o) => o.metadata.name);
const ageCol = col('Age', age);
const get = (o: unknown, path: string): unknown => jsonPath(o, path)[0];
const count = (v: unknown): number => (isObj(v) ? Object.keys(v).length : 0);

const BUILTIN: Record<string, Column[]> = {
  '/configmaps': [
    nameCol,
    col('Data', (o) => count(o.data) + count(o.binaryData), 'integer'),
    ageCol,
  ],
  '/secrets': [
    nameCol,
    col('Type', (o) => o.type ?? 'Opaque'),
    col('Data', (o) => count(o.data), 'integer'),
    ageCol,
  ],
  '/namespaces': [nameCol, col('Status', (o) => get(o, '.status.phase') ?? 'Active'), ageCol],
  '/pods': [
    nameCol,
    col('Ready', (o) => {
      const statuses = (get(o, '.status.containerStatuses') ?? []) as { ready?: boolean }[];
      const total = ((get(o, '.spec.containers') ?? []) as unknown[]).length;
      return `${statuses.filter((s) => s.ready).length}/${total}`;
    }),
    col('Status', (o) => get(o, '.status.phase') ?? 'Pending'),
    col(
      'Restarts',
      (o) =>
        ((get(o, '.status.containerStatuses') ?? []) as { restartCount?: number }[]).reduce(
          (n, s) => n + (s.restartCount ?? 0),
          0,
        ),
      'integer',
    ),
    ageCol,
  ],
  '/services': [
    nameCol,
    col('Type', (o) => get(o, '.spec.type') ?? 'ClusterIP'),
    col('Cluster-IP', (o) => get(o, '.spec.clusterIP') ?? '<none>'),
    col('External-IP', () => '<none>'),
    col(
      'Port(s)',
      (o) =>
        ((get(o, '.spec.ports') ?? []) as { port: number; protocol?: string }[])
          .map((p) => `${p.port}/${p.protocol ?? 'TCP'}`)
          .join(',') || '<none>',
    ),
    ageCol,
  ],
  'apps/deployments': [
    nameCol,
    col('Ready', (o) => `${get(o, '.status.readyReplicas') ?? 0}/${get(o, '.spec.replicas') ?? 1}`),
    col('Up-to-date', (o) => get(o, '.status.updatedReplicas') ?? 0, 'integer'),
    col('Available', (o) => get(o, '.status.availableReplicas') ?? 0, 'integer'),
    ageCol,
  ],
  'apps/statefulsets': [
    nameCol,
    col('Ready', (o) => `${get(o, '.status.readyReplicas') ?? 0}/${get(o, '.spec.replicas') ?? 1}`),
    ageCol,
  ],
  'apiextensions.k8s.io/customresourcedefinitions': [
    nameCol,
    col('Created At', (o) => o.metadata.creationTimestamp, 'date'),
  ],
};

function columnsOf(def: ResourceDef): Column[] {
  if (def.custom) {
    const printer: PrinterColumn[] = def.custom.printerColumns;
    if (printer.length === 0) return [nameCol, ageCol];
    return [
      nameCol,
      ...printer.map((p) => ({
        name: p.name,
        type: p.type,
        format: p.format ?? '',
        description: p.description ?? '',
        priority: p.priority ?? 0,
        cell: (o: KObject) => {
          const found = jsonPath(o, p.jsonPath);
          if (found.length === 0) return null;
          if (p.type === 'date' && typeof found[0] === 'string') {
            return humanDuration(Date.now() - Date.parse(found[0]));
          }
          if (found.length === 1)
            return isObj(found[0]) || Array.isArray(found[0]) ? JSON.stringify(found[0]) : found[0];
          return found.map((f) => (typeof f === 'string' ? f : JSON.stringify(f))).join(',');
        },
      })),
    ];
  }
  return BUILTIN[`${def.group}/${def.plural}`] ?? [nameCol, ageCol];
}

export type IncludeObject = 'None' | 'Metadata' | 'Object';

export function toTable(
  def: ResourceDef,
  items: KObject[],
  include: IncludeObject,
  listMeta: Record<string, unknown>,
): Record<string, unknown> {
  const columns = columnsOf(def);
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: listMeta,
    columnDefinitions: columns.map(({ cell: _cell, ...c }) => c),
    rows: items.map((o) => ({
      cells: columns.map((c) => {
        const v = c.cell(o);
        return v === undefined ? null : v;
      }),
      object:
        include === 'None'
          ? undefined
          : include === 'Metadata'
            ? { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata }
            : o,
    })),
  };
}
