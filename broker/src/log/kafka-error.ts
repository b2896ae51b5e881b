/** An error with the Kafka error code to put in the response. */
export class KafkaError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
    this.name = 'KafkaError';
  }
}

export function errorCodeOf(err: unknown, fallback: number): number {
  return err instanceof KafkaError ? err.code : fallback;
}
