// Generates the Kafka message codecs in broker/src/protocol/generated/ from Apache Kafka's JSON
// message definitions (default ../shared/kafka-protocol/message).
//
//   npx tsx broker/scripts/generate-protocol.ts [definitionsDir] [outputDir]
//
// For every message it emits TypeScript interfaces (fields in camelCase; nested structs named
// <Message><Struct>) and a MessageCodec with read/write/size functions whose version checks are
// spelled out per field, so the output reads like hand-written code.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { format } from 'prettier';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..', '..');

/** The messages the broker speaks, by file stem. */
export const API_NAMES = [
  'Produce',
  'Fetch',
  'ListOffsets',
  'Metadata',
  'OffsetCommit',
  'OffsetFetch',
  'FindCoordinator',
  'JoinGroup',
  'Heartbeat',
  'LeaveGroup',
  'SyncGroup',
  'DescribeGroups',
  'ListGroups',
  'SaslHandshake',
  'ApiVersions',
  'CreateTopics',
  'DeleteTopics',
  'DeleteRecords',
  'InitProducerId',
  'OffsetForLeaderEpoch',
  'DescribeConfigs',
  'AlterConfigs',
  'SaslAuthenticate',
  'CreatePartitions',
  'DeleteGroups',
  'IncrementalAlterConfigs',
  'OffsetDelete',
  'DescribeCluster',
  'DescribeProducers',
];
export const EXTRA_MESSAGES = [
  'RequestHeader',
  'ResponseHeader',
  'ConsumerProtocolSubscription',
  'ConsumerProtocolAssignment',
];

// ---------------------------------------------------------------------------------------------
// Schema model

export interface FieldSpec {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  taggedVersions?: string;
  flexibleVersions?: string;
  tag?: number;
  default?: string | number | boolean;
  ignorable?: boolean;
  mapKey?: boolean;
  about?: string;
  fields?: FieldSpec[];
}

export interface MessageSpec {
  apiKey?: number;
  type: 'request' | 'response' | 'header' | 'data';
  name: string;
  validVersions: string;
  flexibleVersions: string;
  latestVersionUnstable?: boolean;
  fields: FieldSpec[];
  commonStructs?: { name: string; versions: string; fields: FieldSpec[] }[];
}

/** An inclusive version range; lo > hi means empty. */
interface Range {
  lo: number;
  hi: number;
}
const NONE: Range = { lo: 1, hi: 0 };
const OPEN = 0x7fff;

export function parseRange(spec: string | undefined): Range {
  if (spec === undefined || spec === 'none') return NONE;
  const s = spec.trim();
  if (s.endsWith('+')) return { lo: Number(s.slice(0, -1)), hi: OPEN };
  const dash = s.indexOf('-');
  if (dash > 0) return { lo: Number(s.slice(0, dash)), hi: Number(s.slice(dash + 1)) };
  return { lo: Number(s), hi: Number(s) };
}

function intersect(a: Range, b: Range): Range {
  return { lo: Math.max(a.lo, b.lo), hi: Math.min(a.hi, b.hi) };
}

const isEmpty = (r: Range) => r.lo > r.hi;
const covers = (r: Range, within: Range) => r.lo <= within.lo && r.hi >= within.hi;

/** A boolean TypeScript expression on `v` that is true inside `r`, given v is within `valid`. */
function cond(r: Range, valid: Range): string {
  const x = intersect(r, valid);
  if (isEmpty(x)) return 'false';
  if (covers(x, valid)) return 'true';
  const parts: string[] = [];
  if (x.lo === x.hi) return `v === ${x.lo}`;
  if (x.lo > valid.lo) parts.push(`v >= ${x.lo}`);
  if (x.hi < valid.hi) parts.push(`v <= ${x.hi}`);
  return parts.join(' && ');
}

/** Strips // comments from the JSON files while leaving "//" inside strings alone. */
export function stripJsonComments(text: string): string {
  let out = '';
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (c === '\\') out += text[++i];
      else if (c === '"') inString = false;
    } else if (c === '"') {
      inString = true;
      out += c;
    } else if (c === '/' && text[i + 1] === '/') {
      while (i < text.length && text[i] !== '\n') i++;
      out += '\n';
    } else {
      out += c;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Code generation

const camel = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);
const kebab = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();

const PRIMITIVES = new Set([
  'bool',
  'int8',
  'int16',
  'uint16',
  'int32',
  'uint32',
  'int64',
  'float64',
  'string',
  'uuid',
  'bytes',
  'records',
]);
const NUMBERS = new Set(['int8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'float64']);

interface StructDef {
  tsName: string;
  fields: FieldSpec[];
}

class MessageGenerator {
  private readonly valid: Range;
  private readonly flexible: Range;
  private readonly structs = new Map<string, StructDef>();
  private readonly order: StructDef[] = [];
  private readonly prefix: string;
  private readonly needsIsDefault = new Set<string>();

  constructor(private readonly spec: MessageSpec) {
    this.valid = parseRange(spec.validVersions);
    this.flexible = parseRange(spec.flexibleVersions);
    this.prefix = spec.name;
    for (const common of spec.commonStructs ?? []) this.register(common.name, common.fields);
    this.collect(spec.fields);
    this.computeNeedsIsDefault();
  }

  private register(schemaName: string, fields: FieldSpec[]): void {
    if (this.structs.has(schemaName)) return;
    // Structs already named after their message (MetadataResponseTopic) keep their name.
    const tsName = schemaName.startsWith(this.prefix) ? schemaName : this.prefix + schemaName;
    const def = { tsName, fields };
    this.structs.set(schemaName, def);
    this.collect(fields);
    this.order.push(def);
  }

  private collect(fields: FieldSpec[]): void {
    for (const f of fields) {
      if (f.fields) this.register(elementType(f.type), f.fields);
    }
  }

  private struct(schemaName: string): StructDef {
    const def = this.structs.get(schemaName);
    if (!def) throw new Error(`${this.spec.name}: unknown struct type ${schemaName}`);
    return def;
  }

  /** The TypeScript type of a field value (without null). */
  private tsType(type: string): string {
    if (type.startsWith('[]')) {
      const inner = this.tsType(type.slice(2));
      return `${inner}[]`;
    }
    if (NUMBERS.has(type)) return 'number';
    if (type === 'bool') return 'boolean';
    if (type === 'string' || type === 'uuid') return 'string';
    if (type === 'bytes' || type === 'records') return 'Buffer';
    return this.struct(type).tsName;
  }

  private fieldFlexible(f: FieldSpec): Range {
    return f.flexibleVersions !== undefined ? parseRange(f.flexibleVersions) : this.flexible;
  }

  private isTagged(f: FieldSpec): boolean {
    return f.tag !== undefined;
  }

  private nullableAlways(f: FieldSpec): boolean {
    return !isEmpty(intersect(parseRange(f.nullableVersions), this.valid));
  }

  /** The default value as a TypeScript expression. */
  private defaultExpr(f: FieldSpec): string {
    const d = f.default;
    if (f.type.startsWith('[]')) return d === 'null' ? 'null' : '[]';
    if (d === 'null') return 'null';
    if (NUMBERS.has(f.type)) {
      if (d === undefined || d === '') return '0';
      const text = String(d);
      if (f.type === 'int64') return String(Number(BigInt(text)));
      return String(Number(text));
    }
    switch (f.type) {
      case 'bool':
        return d === true || d === 'true' ? 'true' : 'false';
      case 'string':
        return JSON.stringify(d === undefined ? '' : String(d));
      case 'uuid':
        return "'00000000-0000-0000-0000-000000000000'";
      case 'bytes':
      case 'records':
        return 'EMPTY';
    }
    return `default${this.struct(f.type).tsName}()`;
  }

  /** Whether a field can be left out when a message is built (it has a default to fall back on). */
  private optional(f: FieldSpec): boolean {
    return (
      this.isTagged(f) ||
      f.default !== undefined ||
      !covers(parseRange(f.versions), this.valid) ||
      this.nullableAlways(f)
    );
  }

  // -- read -----------------------------------------------------------------------------------

  private readExpr(type: string, nullable: string, flex: string): string {
    if (type.startsWith('[]')) {
      const inner = type.slice(2);
      const item = this.readExpr(inner, 'false', flex);
      const fn = `(r) => ${item}`;
      return nullable === 'false'
        ? `readArray(r, ${flex}, ${fn})`
        : nullable === 'true'
          ? `readNullableArray(r, ${flex}, ${fn})`
          : `(${nullable} ? readNullableArray(r, ${flex}, ${fn}) : readArray(r, ${flex}, ${fn}))`;
    }
    const pick = (plain: string, nul: string, cplain: string, cnul: string) => {
      const legacy =
        nullable === 'false'
          ? plain
          : nullable === 'true'
            ? nul
            : `(${nullable} ? ${nul} : ${plain})`;
      const compact =
        nullable === 'false'
          ? cplain
          : nullable === 'true'
            ? cnul
            : `(${nullable} ? ${cnul} : ${cplain})`;
      if (flex === 'false') return legacy;
      if (flex === 'true') return compact;
      return `(${flex} ? ${compact} : ${legacy})`;
    };
    switch (type) {
      case 'bool':
      case 'int8':
      case 'int16':
      case 'uint16':
      case 'int32':
      case 'uint32':
      case 'int64':
      case 'float64':
      case 'uuid':
        return `r.${type}()`;
      case 'string':
        return pick(
          'r.string()',
          'r.nullableString()',
          'r.compactString()',
          'r.compactNullableString()',
        );
      case 'bytes':
      case 'records':
        return pick(
          'r.bytes()',
          'r.nullableBytes()',
          'r.compactBytes()',
          'r.compactNullableBytes()',
        );
    }
    return `read${this.struct(type).tsName}(r, v)`;
  }

  // -- write ----------------------------------------------------------------------------------

  private writeStmt(type: string, value: string, nullable: string, flex: string): string {
    if (type.startsWith('[]')) {
      const inner = type.slice(2);
      const item = `(w, x) => { ${this.writeStmt(inner, 'x', 'false', flex)} }`;
      return nullable === 'false'
        ? `writeArray(w, ${value} as ${this.tsType(inner)}[], ${flex}, ${item});`
        : `writeNullableArray(w, ${value}, ${flex}, ${item});`;
    }
    const pick = (plain: string, nul: string, cplain: string, cnul: string, cast: string) => {
      const v1 = nullable === 'false' ? `${plain}(${value} as ${cast})` : `${nul}(${value})`;
      const v2 = nullable === 'false' ? `${cplain}(${value} as ${cast})` : `${cnul}(${value})`;
      if (flex === 'false') return `w.${v1};`;
      if (flex === 'true') return `w.${v2};`;
      return `if (${flex}) w.${v2}; else w.${v1};`;
    };
    switch (type) {
      case 'bool':
      case 'int8':
      case 'int16':
      case 'uint16':
      case 'int32':
      case 'uint32':
      case 'int64':
      case 'float64':
      case 'uuid':
        return `w.${type}(${value});`;
      case 'string':
        return pick('string', 'nullableString', 'compactString', 'compactNullableString', 'string');
      case 'bytes':
      case 'records':
        return pick('bytes', 'nullableBytes', 'compactBytes', 'compactNullableBytes', 'Buffer');
    }
    return `write${this.struct(type).tsName}(w, ${value}, v);`;
  }

  private sizeExpr(type: string, value: string, nullable: string, flex: string): string {
    if (type.startsWith('[]')) {
      const inner = type.slice(2);
      const item = `(x) => ${this.sizeExpr(inner, 'x', 'false', flex)}`;
      return nullable === 'false'
        ? `arraySize(${value} as ${this.tsType(inner)}[], ${flex}, ${item})`
        : `nullableArraySize(${value}, ${flex}, ${item})`;
    }
    const fixed: Record<string, number> = {
      bool: 1,
      int8: 1,
      int16: 2,
      uint16: 2,
      int32: 4,
      uint32: 4,
      int64: 8,
      float64: 8,
      uuid: 16,
    };
    if (fixed[type] !== undefined) return String(fixed[type]);
    if (type === 'string') {
      return nullable === 'false'
        ? `stringSize(${value} as string, ${flex})`
        : `nullableStringSize(${value}, ${flex})`;
    }
    if (type === 'bytes' || type === 'records') {
      return nullable === 'false'
        ? `bytesSize(${value} as Buffer, ${flex})`
        : `nullableBytesSize(${value}, ${flex})`;
    }
    return `size${this.struct(type).tsName}(${value}, v)`;
  }

  /** Condition under which a tagged field differs from its default and so is written. */
  private notDefault(f: FieldSpec, value: string): string {
    const d = this.defaultExpr(f);
    if (f.type.startsWith('[]'))
      return d === 'null' ? `${value} != null` : `${value} != null && ${value}.length > 0`;
    if (d === 'EMPTY') return `${value} != null && ${value}.length > 0`;
    if (PRIMITIVES.has(f.type)) return `${value} !== undefined && ${value} !== ${d}`;
    return `${value} !== undefined && !is${this.struct(f.type).tsName}Default(${value})`;
  }

  // -- structs --------------------------------------------------------------------------------

  private emitStruct(tsName: string, fields: FieldSpec[], isRoot: boolean): string {
    const out: string[] = [];
    const flexAny = !isEmpty(intersect(this.flexible, this.valid));
    const flexCond = cond(this.flexible, this.valid);

    // Interface.
    out.push(`export interface ${tsName} {`);
    for (const f of fields) {
      const doc: string[] = [];
      if (f.about) doc.push(f.about.replace(/\*\//g, '* /'));
      const meta = [`versions ${f.versions}`];
      if (f.nullableVersions) meta.push(`nullable ${f.nullableVersions}`);
      if (f.tag !== undefined) meta.push(`tag ${f.tag} (${f.taggedVersions})`);
      if (f.default !== undefined) meta.push(`default ${JSON.stringify(f.default)}`);
      if (f.mapKey) meta.push('map key');
      if (f.ignorable) meta.push('ignorable');
      doc.push(meta.join('; '));
      out.push(`  /** ${doc.join(' — ')} */`);
      const nullable = this.nullableAlways(f) ? ' | null' : '';
      out.push(
        `  ${camel(f.name)}${this.optional(f) ? '?' : ''}: ${this.tsType(f.type)}${nullable};`,
      );
    }
    if (flexAny) {
      out.push(
        '  /** Tagged fields this version of the code does not know, preserved as raw bytes. */',
      );
      out.push('  unknownTaggedFields?: TaggedField[];');
    }
    out.push('}', '');

    const present = (f: FieldSpec) => intersect(parseRange(f.versions), this.valid);
    const flexValid = intersect(this.flexible, this.valid);
    const tagged = fields.filter((f) => this.isTagged(f)).sort((a, b) => a.tag! - b.tag!);
    const regular = fields.filter((f) => !this.isTagged(f));
    // Flexibility and nullability are tested only where the field is present.
    const flexOf = (f: FieldSpec) => cond(this.fieldFlexible(f), present(f));
    const nullOf = (f: FieldSpec) => cond(parseRange(f.nullableVersions), present(f));

    // Default factory, used for struct-typed defaults and by handlers.
    out.push(`/** A ${tsName} with every field at its default. */`);
    out.push(`export function default${tsName}(): Complete<${tsName}> {`);
    const defaults = fields.map((f) => `${camel(f.name)}: ${this.defaultExpr(f)}`);
    out.push(`  return { ${defaults.join(', ')} };`, '}', '');

    if (this.needsIsDefault.has(tsName)) {
      out.push(`function is${tsName}Default(m: ${tsName}): boolean {`);
      const checks = fields.map((f) => `!(${this.notDefault(f, `m.${camel(f.name)}`)})`);
      out.push(`  return ${checks.join(' && ') || 'true'};`, '}', '');
    }

    // Read.
    out.push(`export function read${tsName}(r: Reader, v: number): ${tsName} {`);
    out.push(`  const m = default${tsName}() as ${tsName};`);
    for (const f of regular) {
      const p = cond(present(f), this.valid);
      if (p === 'false') continue;
      const stmt = `m.${camel(f.name)} = ${this.readExpr(f.type, nullOf(f), flexOf(f))};`;
      out.push(p === 'true' ? `  ${stmt}` : `  if (${p}) ${stmt}`);
    }
    if (!flexAny) {
      // Not flexible in any version: there is no tagged-field section.
    } else {
      const body: string[] = [];
      for (const f of tagged) {
        const tv = cond(intersect(parseRange(f.taggedVersions), present(f)), flexValid);
        const guard = tv === 'true' ? '' : `if (!(${tv})) return false; `;
        body.push(
          `case ${f.tag}: ${guard}m.${camel(f.name)} = ${this.readExpr(f.type, nullOf(f), 'true')}; return true;`,
        );
      }
      const known = tagged.length
        ? `(tag, r) => { switch (tag) { ${body.join(' ')} default: return false; } }`
        : '() => false';
      const stmt = `{ const unknown = r.taggedFields(${known}); if (unknown) m.unknownTaggedFields = unknown; }`;
      out.push(flexCond === 'true' ? `  ${stmt}` : `  if (${flexCond}) ${stmt}`);
    }
    out.push('  return m;');
    out.push('}', '');

    // Size.
    out.push(`export function size${tsName}(m: ${tsName}, v: number): number {`);
    out.push('  let size = 0;');
    for (const f of regular) {
      const p = cond(present(f), this.valid);
      if (p === 'false') continue;
      const value = this.valueOf(f);
      const expr = `size += ${this.sizeExpr(f.type, value, nullOf(f), flexOf(f))};`;
      out.push(p === 'true' ? `  ${expr}` : `  if (${p}) ${expr}`);
    }
    if (flexAny) {
      const lines: string[] = [];
      const decl = tagged.length ? 'let' : 'const';
      lines.push(`${decl} count = m.unknownTaggedFields?.length ?? 0;`);
      lines.push(`${decl} tags = rawTaggedFieldsSize(m.unknownTaggedFields);`);
      for (const f of tagged) {
        const tv = cond(intersect(parseRange(f.taggedVersions), present(f)), flexValid);
        const value = `m.${camel(f.name)}`;
        const guard = tv === 'true' ? '' : `(${tv}) && `;
        lines.push(
          `if (${guard}${this.notDefault(f, value)}) { count++; tags += taggedFieldSize(${f.tag}, ${this.sizeExpr(f.type, value, nullOf(f), 'true')}); }`,
        );
      }
      lines.push('size += uvarintSize(count) + tags;');
      const block = `{ ${lines.join(' ')} }`;
      out.push(flexCond === 'true' ? `  ${block}` : `  if (${flexCond}) ${block}`);
    }
    out.push('  return size;', '}', '');

    // Write.
    out.push(`export function write${tsName}(w: Writer, m: ${tsName}, v: number): void {`);
    for (const f of regular) {
      const range = present(f);
      const p = cond(range, this.valid);
      const value = this.valueOf(f);
      if (p !== 'true' && !f.ignorable && !(f.fields && !f.type.startsWith('[]'))) {
        // Kafka refuses to silently drop a non-ignorable field that the version cannot carry.
        const check = `if (!(${p}) && ${this.notDefaultLoose(f, `m.${camel(f.name)}`)}) throw new ProtocolEncodeError(\`${this.spec.name}: ${f.name} cannot be written at version \${v}\`);`;
        out.push(`  ${check}`);
      }
      if (p === 'false') continue;
      const stmt = this.writeStmt(f.type, value, nullOf(f), flexOf(f));
      out.push(p === 'true' ? `  ${stmt}` : `  if (${p}) { ${stmt} }`);
    }
    if (flexAny) {
      const lines: string[] = [];
      const conds = tagged.map((f) => {
        const tv = cond(intersect(parseRange(f.taggedVersions), present(f)), flexValid);
        const guard = tv === 'true' ? '' : `(${tv}) && `;
        return `${guard}${this.notDefault(f, `m.${camel(f.name)}`)}`;
      });
      lines.push(
        `w.uvarint((m.unknownTaggedFields?.length ?? 0)${conds.map((c) => ` + (${c} ? 1 : 0)`).join('')});`,
      );
      tagged.forEach((f, i) => {
        const value = `m.${camel(f.name)}!`;
        lines.push(
          `if (${conds[i]}) { w.uvarint(${f.tag}); w.uvarint(${this.sizeExpr(f.type, value, nullOf(f), 'true')}); ${this.writeStmt(f.type, value, nullOf(f), 'true')} }`,
        );
      });
      lines.push('w.rawTaggedFields(m.unknownTaggedFields);');
      const block = `{ ${lines.join(' ')} }`;
      out.push(flexCond === 'true' ? `  ${block}` : `  if (${flexCond}) ${block}`);
    }
    out.push('}', '');

    if (isRoot) {
      const codec = this.spec.name;
      out.push(`export const ${codec}Codec: MessageCodec<${codec}> = {`);
      out.push(`  name: '${codec}',`);
      out.push(`  apiKey: ${this.spec.apiKey ?? -1},`);
      out.push(`  minVersion: ${this.valid.lo},`);
      out.push(`  maxVersion: ${this.valid.hi},`);
      out.push(`  flexibleFrom: ${flexAny ? Math.max(this.flexible.lo, this.valid.lo) : -1},`);
      out.push(`  read: read${codec},`);
      out.push(`  write: write${codec},`);
      out.push(`  size: size${codec},`);
      out.push('};', '');
    }
    return out.join('\n');
  }

  /** A field's value for writing: the default stands in for a field left out. */
  private valueOf(f: FieldSpec): string {
    const field = `m.${camel(f.name)}`;
    return this.optional(f)
      ? `(${field} === undefined ? ${this.defaultExpr(f)} : ${field})`
      : field;
  }

  /** Like notDefault, but for a possibly-undefined value of a regular field. */
  private notDefaultLoose(f: FieldSpec, value: string): string {
    const d = this.defaultExpr(f);
    if (f.type.startsWith('[]'))
      return d === 'null' ? `${value} != null` : `${value} != null && ${value}.length > 0`;
    if (d === 'EMPTY') return `${value} != null && ${value}.length > 0`;
    return `${value} !== undefined && ${value} !== ${d}`;
  }

  /** Struct types that appear as tagged fields (and the structs nested in them). */
  private computeNeedsIsDefault(): void {
    const add = (schemaName: string) => {
      const def = this.struct(schemaName);
      if (this.needsIsDefault.has(def.tsName)) return;
      this.needsIsDefault.add(def.tsName);
      for (const f of def.fields) {
        if (!f.type.startsWith('[]') && !PRIMITIVES.has(f.type)) add(f.type);
      }
    };
    const visit = (fields: FieldSpec[]) => {
      for (const f of fields) {
        if (this.isTagged(f) && !f.type.startsWith('[]') && !PRIMITIVES.has(f.type)) add(f.type);
      }
    };
    visit(this.spec.fields);
    for (const def of this.structs.values()) visit(def.fields);
  }

  generate(source: string): string {
    const parts: string[] = [];
    parts.push(`// Generated by broker/scripts/generate-protocol.ts from ${source}. Do not edit.`);
    parts.push(
      `// ${this.spec.name}: versions ${this.spec.validVersions}, flexible ${this.spec.flexibleVersions}.`,
    );
    parts.push('');
    const body: string[] = [];
    for (const s of this.order) body.push(this.emitStruct(s.tsName, s.fields, false));
    body.push(this.emitStruct(this.spec.name, this.spec.fields, true));
    const text = body.join('\n');

    const imports: string[] = [];
    const used = (name: string) => new RegExp(`\\b${name}\\b`).test(text);
    const readerNames = ['Reader', 'readArray', 'readNullableArray'].filter(used);
    const writerNames = ['Writer', 'writeArray', 'writeNullableArray'].filter(used);
    const sizeNames = [
      'arraySize',
      'nullableArraySize',
      'stringSize',
      'nullableStringSize',
      'bytesSize',
      'nullableBytesSize',
      'uvarintSize',
      'taggedFieldSize',
      'rawTaggedFieldsSize',
    ].filter(used);
    imports.push(`import { ${readerNames.join(', ')} } from '../codec/reader.js';`);
    imports.push(`import { ${writerNames.join(', ')} } from '../codec/writer.js';`);
    if (sizeNames.length)
      imports.push(`import { ${sizeNames.join(', ')} } from '../codec/size.js';`);
    imports.push(`import type { MessageCodec } from '../codec/message-codec.js';`);
    if (used('TaggedField'))
      imports.push(`import type { TaggedField } from '../codec/tagged-fields.js';`);
    if (used('ProtocolEncodeError'))
      imports.push(`import { ProtocolEncodeError } from '../codec/errors.js';`);
    parts.push(...imports, '');
    if (used('EMPTY')) parts.push('const EMPTY = Buffer.alloc(0);', '');
    parts.push('/** A message with every field present (what the decoder returns). */');
    parts.push("type Complete<T> = Required<Omit<T, 'unknownTaggedFields'>>;", '');
    parts.push(text);
    return parts.join('\n');
  }
}

function elementType(type: string): string {
  return type.startsWith('[]') ? type.slice(2) : type;
}

// ---------------------------------------------------------------------------------------------
// Driver

export function loadSpec(dir: string, name: string): MessageSpec {
  const text = fs.readFileSync(path.join(dir, `${name}.json`), 'utf8');
  return JSON.parse(stripJsonComments(text)) as MessageSpec;
}

/** Generates every file; returns file name -> formatted contents. */
export async function generateAll(definitionsDir: string): Promise<Map<string, string>> {
  const prettierOptions = {
    parser: 'typescript',
    singleQuote: true,
    printWidth: 100,
    trailingComma: 'all' as const,
  };
  const files = new Map<string, string>();
  const names = [...API_NAMES.flatMap((n) => [`${n}Request`, `${n}Response`]), ...EXTRA_MESSAGES];
  for (const name of names) {
    const spec = loadSpec(definitionsDir, name);
    const code = new MessageGenerator(spec).generate(`${name}.json`);
    files.set(`${kebab(name)}.ts`, await format(code, prettierOptions));
  }

  const index: string[] = [
    '// Generated by broker/scripts/generate-protocol.ts. Do not edit.',
    '',
    "import type { MessageCodec } from '../codec/message-codec.js';",
  ];
  for (const name of names) index.push(`import { ${name}Codec } from './${kebab(name)}.js';`);
  index.push('');
  for (const name of names) index.push(`export * from './${kebab(name)}.js';`);
  index.push('');
  index.push('/** One Kafka API: its key, name and the codecs of its request and response. */');
  index.push('export interface ApiDefinition {');
  index.push('  apiKey: number;');
  index.push('  name: string;');
  index.push('  minVersion: number;');
  index.push('  maxVersion: number;');
  index.push(
    '  /** Lowest flexible version (request header v2, response header v1), -1 if none. */',
  );
  index.push('  flexibleFrom: number;');
  index.push('  request: MessageCodec<any>;');
  index.push('  response: MessageCodec<any>;');
  index.push('}');
  index.push('');
  index.push('export const API_DEFINITIONS: ApiDefinition[] = [');
  for (const n of API_NAMES) {
    const spec = loadSpec(definitionsDir, `${n}Request`);
    const valid = parseRange(spec.validVersions);
    const flex = parseRange(spec.flexibleVersions);
    index.push(
      `  { apiKey: ${spec.apiKey}, name: '${n}', minVersion: ${valid.lo}, maxVersion: ${valid.hi}, flexibleFrom: ${isEmpty(intersect(flex, valid)) ? -1 : Math.max(flex.lo, valid.lo)}, request: ${n}RequestCodec, response: ${n}ResponseCodec },`,
    );
  }
  index.push('];');
  files.set('index.ts', await format(index.join('\n') + '\n', prettierOptions));
  return files;
}

async function main(): Promise<void> {
  const definitionsDir = path.resolve(
    process.argv[2] ?? path.join(repoRoot, '..', 'shared', 'kafka-protocol', 'message'),
  );
  const outDir = path.resolve(
    process.argv[3] ?? path.join(repoRoot, 'broker', 'src', 'protocol', 'generated'),
  );
  const files = await generateAll(definitionsDir);
  fs.rmSync(outDir, { recursive: true, force: true });
  fs.mkdirSync(outDir, { recursive: true });
  for (const [name, text] of files) fs.writeFileSync(path.join(outDir, name), text);
  console.log(`generated ${files.size} files in ${path.relative(process.cwd(), outDir) || outDir}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
