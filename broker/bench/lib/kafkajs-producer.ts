// Child process: produces records of one size with kafkajs (acks=all) for a number of seconds,
// keeping a few sendBatch calls in flight, and prints {seconds, records, bytes}. Run in its own
// process so its CPU does not compete with the harness (which hosts the S3 proxy).
//
//   node --import tsx broker/bench/lib/kafkajs-producer.ts < job.json

import { randomBytes } from 'node:crypto';
import { Kafka, Partitioners, logLevel, type Message } from 'kafkajs';

interface Job {
  bootstrap: string;
  topic: string;
  size: number;
  seconds: number;
}

const BATCH_BYTES = 512 * 1024;
const IN_FLIGHT = 4;

async function readJob(): Promise<Job> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString()) as Job;
}

async function main(): Promise<void> {
  const job = await readJob();
  const kafka = new Kafka({
    clientId: 'kafscale-bench',
    brokers: [job.bootstrap],
    logLevel: logLevel.NOTHING,
  });
  const producer = kafka.producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
  });
  await producer.connect();
  const payload = randomBytes(job.size);
  const perBatch = Math.max(1, Math.floor(BATCH_BYTES / job.size));
  // No key: the default partitioner spreads records round robin over the partitions.
  const messages: Message[] = Array.from({ length: perBatch }, () => ({ value: payload }));
  await producer.send({ topic: job.topic, acks: -1, messages: messages.slice(0, 1) });

  let records = 0;
  const start = performance.now();
  const deadline = start + job.seconds * 1000;
  const worker = async () => {
    while (performance.now() < deadline) {
      await producer.send({ topic: job.topic, acks: -1, messages });
      records += perBatch;
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const seconds = (performance.now() - start) / 1000;
  await producer.disconnect();
  process.stdout.write(JSON.stringify({ seconds, records, bytes: records * job.size }));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
