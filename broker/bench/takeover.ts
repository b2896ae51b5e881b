// How long one broker takes to start leading many partitions at once (acquire each leader key,
// read the state and manifest, commit the new epoch), against a real etcd on this machine. Each
// round creates a topic and takes all its partitions together, as a broker does when a request
// names them after a restart or a rebalance.
//
//   npx tsx broker/bench/takeover.ts [--partitions 1000] [--rounds 3]
//
// The first round includes the process warming up.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import winston from 'winston';
import { createBrokerContext, stopBrokerContext } from '../src/broker.js';
import { loadConfig } from '../src/config.js';
import { EtcdMetadataStore } from '../src/metadata/etcd-metadata-store.js';
import { LocalObjectStore } from '../src/storage/local-object-store.js';
import { EtcdServer } from '../test/support/etcd.js';

const { values } = parseArgs({
  options: {
    partitions: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '3' },
  },
});
const partitions = Number(values.partitions);

const etcd = await EtcdServer.start();
const store = new EtcdMetadataStore({ endpoints: [etcd.endpoint] });
const dir = await mkdtemp(path.join(os.tmpdir(), 'kafscale-takeover-'));
const logger = winston.createLogger({
  level: 'warn',
  transports: [new winston.transports.Console()],
});
const broker = await createBrokerContext(
  { ...loadConfig({}), dataDir: dir },
  store,
  new LocalObjectStore(dir),
  logger,
  0,
);
try {
  for (let round = 1; round <= Number(values.rounds); round++) {
    const topic = `takeover-${round}`;
    await broker.metadata.createTopic(topic, partitions, {});
    const { batches, commits } = broker.logs.committer;
    const cpu = process.cpuUsage();
    const started = performance.now();
    await Promise.all(Array.from({ length: partitions }, (_, p) => broker.logs.get(topic, p)));
    const elapsed = performance.now() - started;
    const used = process.cpuUsage(cpu);
    console.log(
      `round ${round}: ${partitions} partitions taken in ${elapsed.toFixed(0)} ms, broker CPU ` +
        `${((used.user + used.system) / 1000).toFixed(0)} ms, ` +
        `${broker.logs.committer.commits - commits} epoch commits in ` +
        `${broker.logs.committer.batches - batches} transactions`,
    );
  }
} finally {
  await stopBrokerContext(broker);
  await store.close();
  await etcd.destroy();
  await rm(dir, { recursive: true, force: true });
}
