// Label and field selectors in their query-string syntax, as list and watch receive them.
import { badRequest } from './errors.js';
import type { KObject } from './types.js';

type Requirement =
  { key: string; op: 'in' | 'notin'; values: string[] } | { key: string; op: 'exists' | '!' };

export type Selector = (obj: KObject) => boolean;

const KEY = /^[A-Za-z0-9]([-A-Za-z0-9_./]*[A-Za-z0-9])?$/;

/** Splits on commas that are not inside a `(...)` value set. */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    else if (text[i] === ',' && depth === 0) {
      terms.push(text.slice(start, i));
      start = i + 1;
    }
  }
  terms.push(text.slice(start));
  return terms.map((t) => t.trim()).filter((t) => t !== '');
}

function parseLabelTerm(term: string): Requirement {
  let m = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(term);
  if (m) {
    const values = m[3]
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '');
    return { key: checkKey(m[1]), op: m[2] as 'in' | 'notin', values };
  }
  m = /^([^!=\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(term);
  if (m) {
    return { key: checkKey(m[1]), op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]] };
  }
  m = /^!\s*(\S+)$/.exec(term);
  if (m) return { key: checkKey(m[1]), op: '!' };
  if (KEY.test(term)) return { key: term, op: 'exists' };
  throw badRequest(`unable to parse requirement: found '${term}', expected: identifier`);
}

function checkKey(key: string): string {
  if (!KEY.test(key)) throw badRequest(`unable to parse requirement: invalid label key "${key}"`);
  return key;
}

export function parseLabelSelector(text: string | null): Selector {
  if (!text) return () => true;
  const reqs = splitTerms(text).map(parseLabelTerm);
  return (obj) => {
    const labels = obj.metadata.labels ?? {};
    return reqs.every((r) => {
      const has = Object.prototype.hasOwnProperty.call(labels, r.key);
      switch (r.op) {
        case 'exists':
          return has;
        case '!':
          return !has;
        case 'in':
          return has && r.values.includes(labels[r.key]);
        case 'notin':
          return !has || !r.values.includes(labels[r.key]);
      }
    });
  };
}

/** Only the fields every resource supports; the real server adds a few per kind. */
export function parseFieldSelector(text: string | null): Selector {
  if (!text) return () => true;
  const checks = splitTerms(text).map((term) => {
    const m = /^([^!=\s]+)\s*(==|=|!=)\s*(.*)$/.exec(term);
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${term}'`);
    const [, field, op, value] = m;
    const get = fieldGetter(field);
    return (obj: KObject) => (get(obj) === value) === (op !== '!=');
  });
  return (obj) => checks.every((c) => c(obj));
}

function fieldGetter(field: string): (obj: KObject) => string {
  switch (field) {
    case 'metadata.name':
      return (o) => o.metadata.name ?? '';
    case 'metadata.namespace':
      return (o) => o.metadata.namespace ?? '';
    case 'status.phase':
      return (o) => String((o.status as { phase?: string } | undefined)?.phase ?? '');
    case 'spec.nodeName':
      return (o) => String((o.spec as { nodeName?: string } | undefined)?.nodeName ?? '');
    default:
      throw badRequest(`field label not supported: ${field}`);
  }
}

/** `matchLabels`/`matchExpressions` to the string form Scale.status.selector carries. */
export function formatLabelSelector(sel: unknown): string {
  if (typeof sel === 'string') return sel;
  if (!sel || typeof sel !== 'object') return '';
  const s = sel as {
    matchLabels?: Record<string, string>;
    matchExpressions?: { key: string; operator: string; values?: string[] }[];
  };
  const parts = Object.entries(s.matchLabels ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions ?? []) {
    const values = [...(e.values ?? [])].sort().join(',');
    if (e.operator === 'In') parts.push(`${e.key} in (${values})`);
    else if (e.operator === 'NotIn') parts.push(`${e.key} notin (${values})`);
    else if (e.operator === 'Exists') parts.push(e.key);
    else if (e.operator === 'DoesNotExist') parts.push(`!${e.key}`);
  }
  return parts.join(',');
}
