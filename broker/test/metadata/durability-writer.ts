// Child process for the kill -9 test: commits txns as fast as it can and prints every key only
// after its txn was acknowledged, until the test kills it.

import { EmbeddedMetadataStore } from '../../src/metadata/embedded-metadata-store.js';

const [dataDir, compactBytes] = process.argv.slice(2);
const store = await EmbeddedMetadataStore.open(dataDir!, { compactBytes: Number(compactBytes) });
const lease = await store.grantLease(30);
process.stdout.write('ready\n');

let next = 0;
const writer = async (lane: number) => {
  for (;;) {
    const key = `ack/${lane}/${next++}`;
    const result = await store.txn(
      [{ key, target: 'version', op: '=', value: 0 }],
      [
        { type: 'put', key, value: key },
        { type: 'put', key: `leased/${lane}`, value: key, lease: lease.id },
      ],
    );
    if (!result.succeeded) throw new Error(`${key} already existed`);
    process.stdout.write(`${key}\n`);
  }
};
await Promise.all(Array.from({ length: 16 }, (_, lane) => writer(lane)));
