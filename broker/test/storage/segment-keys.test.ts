import fc from 'fast-check';
import {
  newWriterId,
  parseSegmentKey,
  partitionPrefix,
  segmentKeys,
} from '../../src/storage/segment-keys.js';

describe('segment keys', () => {
  it('lays keys out as {namespace}/{topic}/{partition}/segment-{offset:020}-{writer}', () => {
    const parts = {
      namespace: 'prod',
      topic: 'orders',
      partition: 3,
      baseOffset: 42,
      writerId: '7-a1b2',
    };
    expect(segmentKeys(parts)).toEqual({
      segment: 'prod/orders/3/segment-00000000000000000042-7-a1b2.kfs',
      index: 'prod/orders/3/segment-00000000000000000042-7-a1b2.index',
    });
    expect(partitionPrefix('prod', 'orders', 3)).toBe('prod/orders/3/');
  });

  it('sort lexically in offset order within a partition', () => {
    const keys = [10, 9, 100, 0].map(
      (baseOffset) =>
        segmentKeys({ namespace: 'n', topic: 't', partition: 0, baseOffset, writerId: 'w' })
          .segment,
    );
    expect([...keys].sort().map((k) => parseSegmentKey(k)!.baseOffset)).toEqual([0, 9, 10, 100]);
  });

  it('round-trip through the parser', () => {
    const part = fc.stringMatching(/^[a-zA-Z0-9._-]{1,12}$/).filter((s) => s !== '.' && s !== '..');
    fc.assert(
      fc.property(
        fc.array(part, { minLength: 1, maxLength: 3 }).map((p) => p.join('/')),
        part,
        fc.integer({ min: 0, max: 0x7fffffff }),
        fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        fc.stringMatching(/^[a-z0-9-]{1,64}$/),
        (namespace, topic, partition, baseOffset, writerId) => {
          const parts = { namespace, topic, partition, baseOffset, writerId };
          const keys = segmentKeys(parts);
          expect(parseSegmentKey(keys.segment)).toEqual({ ...parts, kind: 'segment' });
          expect(parseSegmentKey(keys.index)).toEqual({ ...parts, kind: 'index' });
        },
      ),
    );
  });

  it.each([
    'prod/orders/3/segment-00000000000000000042-w.log',
    'prod/orders/3/segment-42-w.kfs',
    'orders/3/segment-00000000000000000042-w.kfs',
    'prod/orders/03/segment-00000000000000000042-w.kfs',
    'prod/orders/3/segment-00000000000000000042-W.kfs',
    'prod/orders/3/segment-00000000000000000042-.kfs',
    'prod/orders/3/segment-99999999999999999999-w.kfs',
    'prod/or ders/3/segment-00000000000000000042-w.kfs',
    '/orders/3/segment-00000000000000000042-w.kfs',
    'prod/orders/3/manifest.json',
  ])('parses %s as not a segment key', (key) => {
    expect(parseSegmentKey(key)).toBeNull();
  });

  it('refuses to build keys from invalid parts', () => {
    const ok = { namespace: 'n', topic: 't', partition: 0, baseOffset: 0, writerId: 'w' };
    expect(() => segmentKeys({ ...ok, writerId: 'W' })).toThrow(RangeError);
    expect(() => segmentKeys({ ...ok, topic: 'a/b' })).toThrow(RangeError);
    expect(() => segmentKeys({ ...ok, partition: -1 })).toThrow(RangeError);
    expect(() => segmentKeys({ ...ok, baseOffset: 2 ** 53 })).toThrow(RangeError);
    expect(() => segmentKeys({ ...ok, namespace: 'a//b' })).toThrow(RangeError);
  });

  it('makes distinct, valid writer ids carrying the epoch', () => {
    const ids = new Set(Array.from({ length: 100 }, () => newWriterId(12)));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^12-[0-9a-f]{12}$/);
  });
});
