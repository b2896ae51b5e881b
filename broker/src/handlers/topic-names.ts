const LEGAL = /^[a-zA-Z0-9._-]{1,249}$/;

/** Kafka's topic name rules (org.apache.kafka.common.internals.Topic.validate). */
export function isValidTopicName(name: string): boolean {
  return LEGAL.test(name) && name !== '.' && name !== '..';
}
