import fc from 'fast-check';
import * as generated from '../../src/protocol/generated/index.js';
import { decode, encode, type MessageCodec } from '../../src/protocol/codec/message-codec.js';
import { ProtocolEncodeError } from '../../src/protocol/codec/errors.js';
import {
  API_NAMES,
  EXTRA_MESSAGES,
  loadSpec,
  parseRange,
  type FieldSpec,
  type MessageSpec,
} from '../../scripts/generate-protocol.js';
import { DEFINITIONS_DIR, definitionsPresent } from './definitions.js';

type Value = unknown;
const camel = (name: string) => name.charAt(0).toLowerCase() + name.slice(1);
const inRange = (spec: string | undefined, v: number) => {
  const r = parseRange(spec);
  return v >= r.lo && v <= r.hi;
};

/** Random values for every field a message carries at one version, built from the schema. */
function messageArbitrary(spec: MessageSpec, v: number): fc.Arbitrary<Record<string, Value>> {
  const structs = new Map<string, FieldSpec[]>();
  for (const c of spec.commonStructs ?? []) structs.set(c.name, c.fields);
  const register = (fields: FieldSpec[]) => {
    for (const f of fields) {
      if (f.fields) {
        structs.set(f.type.replace('[]', ''), f.fields);
        register(f.fields);
      }
    }
  };
  register(spec.fields);
  for (const c of spec.commonStructs ?? []) register(c.fields);

  const flexible = inRange(spec.flexibleVersions, v);
  const scalar = (type: string): fc.Arbitrary<Value> => {
    switch (type) {
      case 'bool':
        return fc.boolean();
      case 'int8':
        return fc.integer({ min: -128, max: 127 });
      case 'int16':
        return fc.integer({ min: -32768, max: 32767 });
      case 'uint16':
        return fc.integer({ min: 0, max: 65535 });
      case 'int32':
        return fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
      case 'uint32':
        return fc.integer({ min: 0, max: 2 ** 32 - 1 });
      case 'int64':
        return fc.maxSafeInteger();
      case 'float64':
        return fc.double({ noNaN: true, noDefaultInfinity: false });
      case 'string':
        return fc.string({ unit: 'grapheme', maxLength: 12 });
      case 'uuid':
        return fc.uuid();
      case 'bytes':
      case 'records':
        return fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a));
    }
    return struct(structs.get(type)!);
  };
  const field = (f: FieldSpec): fc.Arbitrary<Value> => {
    const base = f.type.startsWith('[]')
      ? fc.array(scalar(f.type.slice(2)), { maxLength: 3 })
      : scalar(f.type);
    return inRange(f.nullableVersions, v) ? fc.option(base, { nil: null }) : base;
  };
  const struct = (fields: FieldSpec[]): fc.Arbitrary<Record<string, Value>> => {
    const record: Record<string, fc.Arbitrary<Value>> = {};
    for (const f of fields) {
      if (!inRange(f.versions, v)) continue;
      if (f.tag !== undefined && (!flexible || !inRange(f.taggedVersions, v))) continue;
      record[camel(f.name)] = field(f);
    }
    return fc.record(record) as fc.Arbitrary<Record<string, Value>>;
  };
  return struct(spec.fields);
}

/** Every field the generator drew must come back unchanged. */
function expectFieldsKept(expected: Value, actual: Value): void {
  if (Buffer.isBuffer(expected)) {
    expect(Buffer.compare(expected, actual as Buffer)).toBe(0);
  } else if (Array.isArray(expected)) {
    expect(Array.isArray(actual)).toBe(true);
    expect((actual as Value[]).length).toBe(expected.length);
    expected.forEach((e, i) => expectFieldsKept(e, (actual as Value[])[i]));
  } else if (expected !== null && typeof expected === 'object') {
    for (const [k, e] of Object.entries(expected))
      expectFieldsKept(e, (actual as Record<string, Value>)[k]);
  } else if (typeof expected === 'number' && expected === 0) {
    expect(Object.is(actual, 0) || Object.is(actual, -0)).toBe(true);
  } else {
    expect(actual).toEqual(expected);
  }
}

const codecs = generated as unknown as Record<string, MessageCodec<Record<string, Value>>>;
const messages = [...API_NAMES.flatMap((n) => [`${n}Request`, `${n}Response`]), ...EXTRA_MESSAGES];

const describeIfDefinitions = definitionsPresent ? describe : describe.skip;

describeIfDefinitions('generated codecs round-trip every message at every version', () => {
  for (const name of messages) {
    test(name, () => {
      const spec = loadSpec(DEFINITIONS_DIR, name);
      const codec = codecs[`${name}Codec`];
      const range = parseRange(spec.validVersions);
      for (let v = range.lo; v <= range.hi; v++) {
        fc.assert(
          fc.property(messageArbitrary(spec, v), (message) => {
            const bytes = encode(codec, message, v);
            expect(bytes.length).toBe(codec.size(message, v));
            const decoded = decode(codec, bytes, v);
            expectFieldsKept(message, decoded);
            expect(encode(codec, decoded, v).equals(bytes)).toBe(true);
          }),
          { numRuns: 25 },
        );
      }
    });
  }
});

describe('codec edge cases', () => {
  test('unknown tagged fields survive a decode and encode', () => {
    const codec = generated.ApiVersionsRequestCodec;
    const message = {
      clientSoftwareName: 'x',
      clientSoftwareVersion: '1',
      unknownTaggedFields: [{ tag: 7, data: Buffer.from([1, 2, 3]) }],
    };
    const bytes = encode(codec, message, 3);
    const decoded = decode(codec, bytes, 3);
    expect(decoded.unknownTaggedFields).toEqual([{ tag: 7, data: Buffer.from([1, 2, 3]) }]);
    expect(encode(codec, decoded, 3).equals(bytes)).toBe(true);
  });

  test('a non-ignorable field that a version cannot carry is refused', () => {
    // FetchResponse.PreferredReadReplica exists from v11 and is not ignorable.
    const message = { responses: [], sessionId: 0, throttleTimeMs: 0 };
    const partition = {
      partitionIndex: 0,
      errorCode: 0,
      highWatermark: 0,
      preferredReadReplica: 3,
      records: null,
    };
    const withReplica = { ...message, responses: [{ topic: 't', partitions: [partition] }] };
    expect(() => encode(generated.FetchResponseCodec, withReplica, 10)).toThrow(
      ProtocolEncodeError,
    );
    expect(() => encode(generated.FetchResponseCodec, withReplica, 11)).not.toThrow();
  });

  test('fields left out are written as their defaults', () => {
    const bytes = encode(generated.FetchResponseCodec, { responses: [] }, 7);
    const decoded = decode(generated.FetchResponseCodec, bytes, 7);
    expect(decoded).toMatchObject({ throttleTimeMs: 0, errorCode: 0, sessionId: 0, responses: [] });
  });

  test('truncated input is a decode error, never a crash', () => {
    const bytes = encode(generated.MetadataRequestCodec, { topics: [{ name: 'abc' }] }, 12);
    for (let n = 0; n < bytes.length; n++) {
      expect(() => decode(generated.MetadataRequestCodec, bytes.subarray(0, n), 12)).toThrow();
    }
  });

  test('an array length larger than the message is refused before allocating', () => {
    const bytes = Buffer.from([0x7f, 0xff, 0xff, 0xff]);
    expect(() => decode(generated.MetadataRequestCodec, bytes, 1)).toThrow(/invalid array length/);
  });
});
