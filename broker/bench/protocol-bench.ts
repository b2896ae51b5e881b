/**
 * Protocol codec micro-benchmark: decode + encode of large Produce requests and Fetch responses.
 *
 *   npx tsx broker/bench/protocol-bench.ts [secondsPerCase]
 *
 * Each case encodes one message, then decodes and re-encodes it in a loop for a few seconds.
 * MB/s counts the message's encoded bytes once per decode+encode iteration.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { decode, encode, type MessageCodec } from '../src/protocol/codec/message-codec.js';
import {
  FetchResponseCodec,
  ProduceRequestCodec,
  type FetchResponse,
  type ProduceRequest,
} from '../src/protocol/generated/index.js';

const seconds = Number(process.argv[2] ?? 3);
const KiB = 1024;
const MiB = 1024 * KiB;
const PARTITIONS = 16;

function produceRequest(recordBytes: number): ProduceRequest {
  return {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30000,
    topicData: [
      {
        name: 'bench-topic',
        partitionData: Array.from({ length: PARTITIONS }, (_, index) => ({
          index,
          records: randomBytes(recordBytes),
        })),
      },
    ],
  };
}

function fetchResponse(recordBytes: number): FetchResponse {
  return {
    throttleTimeMs: 0,
    errorCode: 0,
    sessionId: 0,
    responses: [
      {
        topic: 'bench-topic',
        topicId: randomUUID(),
        partitions: Array.from({ length: PARTITIONS }, (_, partitionIndex) => ({
          partitionIndex,
          errorCode: 0,
          highWatermark: 1_000_000,
          lastStableOffset: 1_000_000,
          logStartOffset: 0,
          abortedTransactions: null,
          preferredReadReplica: -1,
          records: randomBytes(recordBytes),
        })),
      },
    ],
  };
}

interface Result {
  name: string;
  bytes: number;
  iterations: number;
  seconds: number;
}

function run<T>(name: string, codec: MessageCodec<T>, message: T, version: number): Result {
  const bytes = encode(codec, message, version);
  // Check the loop does real work: a decode/encode round trip gives the same bytes.
  if (!encode(codec, decode(codec, bytes, version), version).equals(bytes)) {
    throw new Error(`${name}: round trip changed the bytes`);
  }
  const once = () => encode(codec, decode(codec, bytes, version), version);
  for (let i = 0; i < 20; i++) once(); // warm-up
  let iterations = 0;
  let checksum = 0;
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(Math.round(seconds * 1e9));
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 10; i++) checksum ^= once().length;
    iterations += 10;
    now = process.hrtime.bigint();
  }
  if (checksum === -1) console.log('unreachable');
  return { name, bytes: bytes.length, iterations, seconds: Number(now - start) / 1e9 };
}

const results = [
  run('Produce request v9  (16 x 64 KiB)', ProduceRequestCodec, produceRequest(64 * KiB), 9),
  run('Produce request v11 (16 x 64 KiB)', ProduceRequestCodec, produceRequest(64 * KiB), 11),
  run('Fetch response v12 (16 x 1 MiB)', FetchResponseCodec, fetchResponse(MiB), 12),
  run('Fetch response v16 (16 x 1 MiB)', FetchResponseCodec, fetchResponse(MiB), 16),
];

const rows = results.map((r) => {
  const perSecond = r.iterations / r.seconds;
  return [
    r.name,
    (r.bytes / MiB).toFixed(2),
    perSecond.toFixed(0),
    ((perSecond * r.bytes) / 1e6).toFixed(0),
  ];
});
const header = ['case (decode + encode)', 'message MiB', 'messages/s', 'MB/s'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells: string[]) =>
  `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
console.log(`node ${process.version}, ${seconds} s per case`);
console.log(line(header));
console.log(
  `|${widths.map((w, i) => (i === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`,
);
for (const row of rows) console.log(line(row));
