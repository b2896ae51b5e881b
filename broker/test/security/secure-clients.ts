// Produce-then-consume round trips with real clients configured for TLS and SASL: kcat and
// confluent-kafka (both librdkafka, configured by librdkafka properties) and kafkajs.

import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { Kafka, logLevel, type KafkaConfig } from 'kafkajs';

const KCAT = '/usr/bin/kcat';
const PYTHON = '/usr/bin/python3';

export type LibrdkafkaProps = Record<string, string>;

function run(file: string, args: string[], input: string, timeoutMs = 40_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
    child.stdin!.end(input);
  });
}

function kcatProps(props: LibrdkafkaProps): string[] {
  return Object.entries(props).flatMap(([k, v]) => ['-X', `${k}=${v}`]);
}

/** kcat -P then kcat -C from the beginning; resolves with what was consumed. */
export async function kcatRoundTrip(
  bootstrap: string,
  topic: string,
  values: string[],
  props: LibrdkafkaProps,
): Promise<string[]> {
  await run(
    KCAT,
    ['-P', '-b', bootstrap, '-t', topic, ...kcatProps(props)],
    values.join('\n') + '\n',
  );
  const consume = ['-C', '-o', 'beginning', '-c', String(values.length), '-e', '-q'];
  const out = await run(KCAT, [...consume, '-b', bootstrap, '-t', topic, ...kcatProps(props)], '');
  return out.split('\n').filter(Boolean);
}

/** kcat -L: resolves with the metadata listing, rejects when kcat fails. */
export function kcatMetadata(
  bootstrap: string,
  props: LibrdkafkaProps,
  timeoutMs = 15_000,
): Promise<string> {
  return run(KCAT, ['-L', '-b', bootstrap, '-m', '2', ...kcatProps(props)], '', timeoutMs);
}

const CONFLUENT_SCRIPT = `
import json, sys, time
from confluent_kafka import Consumer, Producer, TopicPartition, OFFSET_BEGINNING
job = json.load(sys.stdin)
conf = dict(job['conf'], **{'bootstrap.servers': job['bootstrap']})
producer = Producer(conf)
for value in job['values']:
    producer.produce(job['topic'], value.encode())
if producer.flush(30):
    sys.exit('messages left unflushed')
consumer = Consumer(dict(conf, **{'group.id': 'roundtrip', 'enable.auto.commit': False}))
consumer.assign([TopicPartition(job['topic'], 0, OFFSET_BEGINNING)])
out, deadline = [], time.time() + 30
while len(out) < len(job['values']) and time.time() < deadline:
    message = consumer.poll(0.5)
    if message is None:
        continue
    if message.error():
        sys.exit(str(message.error()))
    out.append(message.value().decode())
consumer.close()
print(json.dumps(out))
`;

/** confluent-kafka (Python) producer then an assigned consumer from the beginning. */
export async function confluentRoundTrip(
  bootstrap: string,
  topic: string,
  values: string[],
  conf: LibrdkafkaProps,
): Promise<string[]> {
  const out = await run(
    PYTHON,
    ['-c', CONFLUENT_SCRIPT],
    JSON.stringify({ bootstrap, topic, values, conf }),
  );
  return JSON.parse(out) as string[];
}

/** kafkajs producer then a consumer group member reading from the beginning. */
export async function kafkajsRoundTrip(
  config: Omit<KafkaConfig, 'brokers'> & { brokers: string[] },
  topic: string,
  values: string[],
): Promise<string[]> {
  const kafka = new Kafka({ clientId: 'security-test', logLevel: logLevel.NOTHING, ...config });
  const producer = kafka.producer({ allowAutoTopicCreation: true });
  await producer.connect();
  try {
    await producer.send({ topic, messages: values.map((value) => ({ value })) });
  } finally {
    await producer.disconnect();
  }
  const consumer = kafka.consumer({ groupId: `${topic}-group` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const consumed: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('kafkajs consumed too little')), 30_000);
      consumer
        .run({
          eachMessage: async ({ message }) => {
            consumed.push(message.value!.toString());
            if (consumed.length === values.length) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
    return consumed;
  } finally {
    await consumer.disconnect();
  }
}

export function pem(file: string): string {
  return fs.readFileSync(file, 'utf8');
}
