import type { ProducerRecord } from '../metadata/model.js';
import type { RecordBatchHeader } from '../protocol/records/record-batch.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { KafkaError } from './kafka-error.js';

const BATCHES_KEPT = 5;
const MAX_PRODUCERS = 1000;
const INT32_MAX = 0x7fffffff;

interface Batch {
  firstSeq: number;
  lastSeq: number;
  firstOffset: number;
  lastOffset: number;
}

/**
 * Idempotent-producer state of one partition: for each producer id its epoch and last five
 * batches, checked as Kafka does (ProducerAppendInfo): duplicates are recognised, gaps and
 * stale epochs refused. Persisted with each commit, so it survives a broker restart.
 */
export class ProducerStateTable {
  private producers = new Map<number, ProducerRecord>();

  constructor(committed: ProducerRecord[]) {
    this.reset(committed);
  }

  reset(committed: ProducerRecord[]): void {
    this.producers = new Map(committed.map((p) => [p.producerId, structuredClone(p)]));
  }

  /**
   * Returns the earlier batch when this one is a duplicate of one of the last five; throws for
   * out-of-order sequences and fenced epochs; returns undefined for a new batch.
   */
  check(header: RecordBatchHeader): Batch | undefined {
    if (header.producerId < 0) return undefined;
    const lastSeq = (header.baseSequence + header.lastOffsetDelta) % (INT32_MAX + 1);
    const entry = this.producers.get(header.producerId);
    if (!entry) {
      if (header.baseSequence !== 0) {
        throw new KafkaError(
          ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          `unknown producer ${header.producerId} must start at sequence 0, got ${header.baseSequence}`,
        );
      }
      return undefined;
    }
    if (header.producerEpoch < entry.epoch) {
      throw new KafkaError(
        ErrorCode.INVALID_PRODUCER_EPOCH,
        `producer ${header.producerId} epoch ${header.producerEpoch} is older than ${entry.epoch}`,
      );
    }
    if (header.producerEpoch > entry.epoch) {
      if (header.baseSequence !== 0) {
        throw new KafkaError(
          ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          `new epoch ${header.producerEpoch} of producer ${header.producerId} must start at sequence 0`,
        );
      }
      return undefined;
    }
    const duplicate = entry.batches.find(
      (b) => b.firstSeq === header.baseSequence && b.lastSeq === lastSeq,
    );
    if (duplicate) return duplicate;
    const last = entry.batches[entry.batches.length - 1];
    const expected = last ? (last.lastSeq + 1) % (INT32_MAX + 1) : 0;
    if (header.baseSequence !== expected) {
      throw new KafkaError(
        ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        `producer ${header.producerId} sent sequence ${header.baseSequence}, expected ${expected}`,
      );
    }
    return undefined;
  }

  /** Records an accepted batch (called after check returned undefined). */
  record(header: RecordBatchHeader, firstOffset: number, lastOffset: number): void {
    if (header.producerId < 0) return;
    let entry = this.producers.get(header.producerId);
    if (!entry || header.producerEpoch > entry.epoch) {
      entry = {
        producerId: header.producerId,
        epoch: header.producerEpoch,
        batches: [],
        lastTimestamp: 0,
      };
      this.producers.delete(header.producerId);
      this.producers.set(header.producerId, entry);
    }
    const lastSeq = (header.baseSequence + header.lastOffsetDelta) % (INT32_MAX + 1);
    entry.batches.push({ firstSeq: header.baseSequence, lastSeq, firstOffset, lastOffset });
    if (entry.batches.length > BATCHES_KEPT) entry.batches.shift();
    entry.lastTimestamp = Date.now();
  }

  /**
   * The state to persist with a commit that ends at `lastOffset`: batches beyond it are still
   * in flight and not part of the commit. Keeps the most recently active producers.
   */
  committedSnapshot(lastOffset: number): ProducerRecord[] {
    const out: ProducerRecord[] = [];
    for (const p of this.producers.values()) {
      const batches = p.batches.filter((b) => b.lastOffset <= lastOffset);
      if (batches.length > 0) out.push({ ...p, batches });
    }
    out.sort((a, b) => b.lastTimestamp - a.lastTimestamp);
    return out.slice(0, MAX_PRODUCERS);
  }
}
