// kafkajs in the benchmark: the throughput producer (in a child process) and consumer group
// joins (in process, many members at once).

import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import type { Throughput } from './python.js';

const PRODUCER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'kafkajs-producer.ts');

export function produceKafkajs(job: {
  bootstrap: string;
  topic: string;
  size: number;
  seconds: number;
}): Promise<Throughput> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['--import', 'tsx', PRODUCER],
      { timeout: (job.seconds + 120) * 1000, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`kafkajs producer failed: ${(stderr || error.message).slice(-2000)}`));
        else resolve(JSON.parse(stdout) as Throughput);
      },
    );
    child.stdin!.end(JSON.stringify(job));
  });
}

export interface GroupJoin {
  members: number;
  /** From the first connect until every member holds its part of one complete assignment. */
  seconds: number;
  /** JoinGroup rounds seen over all members (more than members means rebalances). */
  joins: number;
}

/**
 * Starts `members` kafkajs consumers of one group at once, subscribed to a topic with
 * `partitions` partitions, and measures the time until their latest assignments are disjoint
 * and cover every partition: the group is stable and consuming.
 */
export async function timeGroupJoin(
  bootstrap: string,
  topic: string,
  partitions: number,
  members: number,
  timeoutMs = 60_000,
): Promise<GroupJoin> {
  const kafka = new Kafka({
    clientId: 'kafscale-bench',
    brokers: [bootstrap],
    logLevel: logLevel.NOTHING,
  });
  const groupId = `bench-group-${members}-${Date.now().toString(36)}`;
  const latest = new Map<number, number[]>();
  let joins = 0;
  const consumers: Consumer[] = [];
  const start = performance.now();
  let done: () => void = () => undefined;
  const stable = new Promise<void>((resolve) => (done = resolve));
  const check = () => {
    if (latest.size < members) return;
    const all = [...latest.values()].flat();
    if (all.length === partitions && new Set(all).size === partitions) done();
  };
  try {
    await Promise.all(
      Array.from({ length: members }, async (_, m) => {
        const consumer = kafka.consumer({ groupId, allowAutoTopicCreation: false });
        consumers.push(consumer);
        consumer.on(consumer.events.GROUP_JOIN, (event) => {
          joins++;
          latest.set(m, event.payload.memberAssignment[topic] ?? []);
          check();
        });
        await consumer.connect();
        await consumer.subscribe({ topic, fromBeginning: false });
        await consumer.run({ eachMessage: async () => undefined });
      }),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      stable,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`group of ${members} not stable within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(timer));
    return { members, seconds: (performance.now() - start) / 1000, joins };
  } finally {
    await Promise.all(consumers.map((c) => c.disconnect().catch(() => undefined)));
  }
}
