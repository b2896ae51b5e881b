import { joinBuffers } from '../../src/util/buffers.js';

// Buffer.alloc: never from the shared pool, where two small buffers may lie back to back.
const region = Buffer.alloc(16, 'aaaabbbbccccdddd');

test('back-to-back views of one region come back as one view of it, not a copy', () => {
  const parts = [region.subarray(4, 8), region.subarray(8, 12), region.subarray(12, 16)];
  const joined = joinBuffers(parts, 12);
  expect(joined.toString()).toBe('bbbbccccdddd');
  expect(joined.buffer).toBe(region.buffer);
  expect(joined.byteOffset).toBe(region.byteOffset + 4);
});

test('views with a gap, out of order or of different memory are copied into one buffer', () => {
  const other = Buffer.alloc(4, 'e');
  const cases: [Buffer[], string][] = [
    [[region.subarray(0, 4), region.subarray(8, 12)], 'aaaacccc'],
    [[region.subarray(8, 12), region.subarray(4, 8)], 'ccccbbbb'],
    [[region.subarray(12, 16), other], 'ddddeeee'],
  ];
  for (const [parts, expected] of cases) {
    const joined = joinBuffers(parts, 8);
    expect(joined.toString()).toBe(expected);
    expect(joined.buffer).not.toBe(region.buffer);
  }
});

test('a single part is returned as it is', () => {
  const part = region.subarray(0, 4);
  expect(joinBuffers([part], 4)).toBe(part);
});
