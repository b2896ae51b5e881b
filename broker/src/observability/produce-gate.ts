// Produce admission by object store health. While the store is Unavailable every flush would
// fail after its retries and hold the batch in memory meanwhile; refusing up front with a
// retriable error makes clients back off and retry, and keeps acknowledged data untouched.

import { KafkaError } from '../log/kafka-error.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { S3HealthState } from './s3-health.js';

export interface ProduceGateDeps {
  health: { readonly state: S3HealthState };
  onRefused?: () => void;
  onDegraded?: () => void;
}

export class ProduceGate {
  constructor(private readonly deps: ProduceGateDeps) {}

  /** Throws a retriable KafkaError when produce must be refused now. */
  admit(): void {
    const state = this.deps.health.state;
    if (state === S3HealthState.Unavailable) {
      this.deps.onRefused?.();
      throw new KafkaError(
        ErrorCode.KAFKA_STORAGE_ERROR,
        'object storage unavailable: produce refused until it recovers',
      );
    }
    if (state === S3HealthState.Degraded) this.deps.onDegraded?.();
  }
}

/**
 * Produce v3 predates KAFKA_STORAGE_ERROR (v4 added it, ProduceRequest.json); Kafka answers older
 * versions with NOT_LEADER_OR_FOLLOWER instead, which every client retries after a metadata
 * refresh.
 */
export function produceErrorForVersion(code: number, apiVersion: number): number {
  return code === ErrorCode.KAFKA_STORAGE_ERROR && apiVersion < 4
    ? ErrorCode.NOT_LEADER_OR_FOLLOWER
    : code;
}
