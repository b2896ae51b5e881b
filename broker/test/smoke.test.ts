import { crc32c } from '@node-rs/crc32';
test('esm works', () => { expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283); });
