import type { TopicRecord } from './model.js';

/**
 * Topic configs the broker understands, with their defaults. Only these can be set by
 * CreateTopics, AlterConfigs and IncrementalAlterConfigs (docs/configuration.md lists them).
 * Everything else a client may ask about is answered read-only from DescribeConfigs' defaults.
 */
export const TOPIC_CONFIGS: Record<
  string,
  { default: string; validate: (v: string) => boolean; doc: string }
> = {
  'retention.ms': {
    default: '604800000',
    validate: isLongAtLeast(-1),
    doc: 'Delete segments older than this; -1 keeps forever.',
  },
  'retention.bytes': {
    default: '-1',
    validate: isLongAtLeast(-1),
    doc: 'Delete oldest segments while a partition holds more; -1 is unlimited.',
  },
  'max.message.bytes': {
    default: '1048588',
    validate: isLongAtLeast(0),
    doc: 'Largest record batch accepted.',
  },
  'cleanup.policy': {
    default: 'delete',
    validate: (v) => v === 'delete',
    doc: 'Only delete is supported (no compaction).',
  },
  'message.timestamp.type': {
    default: 'CreateTime',
    validate: (v) => v === 'CreateTime',
    doc: 'Only CreateTime is supported: batches are stored as the producer sent them.',
  },
  'segment.bytes': {
    default: '',
    validate: isLongAtLeast(1),
    doc: 'Informational; the broker flushes by KAFSCALE_SEGMENT_BYTES.',
  },
  'compression.type': {
    default: 'producer',
    validate: (v) => v === 'producer',
    doc: 'Batches are kept as the producer compressed them.',
  },
};

function isLongAtLeast(min: number): (v: string) => boolean {
  return (v) => /^-?\d+$/.test(v) && Number(v) >= min && Number.isSafeInteger(Number(v));
}

/** Validates a config change; returns an error message or undefined. */
export function validateTopicConfig(name: string, value: string | null): string | undefined {
  const spec = TOPIC_CONFIGS[name];
  if (!spec) return `unknown or unsupported topic config ${name}`;
  if (value !== null && !spec.validate(value)) return `invalid value ${value} for ${name}`;
  return undefined;
}

export function topicConfigValue(topic: TopicRecord, name: string): string {
  return topic.configs[name] ?? TOPIC_CONFIGS[name]?.default ?? '';
}

export function topicConfigNumber(topic: TopicRecord, name: string): number {
  return Number(topicConfigValue(topic, name));
}
