// `kafscale topics`: topics and their partitions as the metadata store holds them.

import { parseArgs } from 'node:util';
import type { ClusterMetadata } from '../metadata/cluster-metadata.js';
import { UsageError, type CliCommand, type CliContext } from './command.js';
import { partitionLeaders, partitionStates } from './cluster-state.js';
import { withClusterMetadata } from './metadata-access.js';
import { fields, printJson, table } from './table.js';

const USAGE = `Usage:
  kafscale topics list [--json]
  kafscale topics describe <topic> [--json]

list prints every topic with its partition count and the messages it retains (high watermark
minus log start offset, summed over partitions). describe prints the topic's configuration
overrides and, per partition, its live leader, log start offset, high watermark, leader epoch
and number of committed segments.`;

async function list(args: string[], cli: CliContext): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } } });
  const topics = await withClusterMetadata(cli.env, async (metadata) => {
    const states = await partitionStates(metadata);
    return metadata.topics().map((t) => {
      let messages = 0;
      for (let p = 0; p < t.partitions; p++) {
        const s = states.get(`${t.name}/${p}`);
        if (s) messages += s.highWatermark - s.logStartOffset;
      }
      return { name: t.name, id: t.id, partitions: t.partitions, messages, configs: t.configs };
    });
  });
  if (values.json) {
    printJson(cli.out, topics);
    return 0;
  }
  const rows = topics.map((t) => [t.name, t.partitions, t.messages, t.id]);
  for (const line of table(['TOPIC', 'PARTITIONS', 'MESSAGES', 'TOPIC ID'], rows)) cli.out(line);
  return 0;
}

async function segmentCounts(
  metadata: ClusterMetadata,
  topic: string,
): Promise<Map<number, number>> {
  const base = `${metadata.prefix}segments/${topic}/`;
  const counts = new Map<number, number>();
  for (const kv of await metadata.store.getPrefix(base)) {
    const partition = Number(kv.key.slice(base.length).split('/')[0]);
    counts.set(partition, (counts.get(partition) ?? 0) + 1);
  }
  return counts;
}

async function describe(args: string[], cli: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean' } },
  });
  if (positionals.length !== 1) throw new UsageError('expected exactly one topic name');
  const name = positionals[0];
  const described = await withClusterMetadata(cli.env, async (metadata) => {
    const topic = metadata.topic(name);
    if (!topic) return undefined;
    const [states, leaders, segments] = await Promise.all([
      partitionStates(metadata, name),
      partitionLeaders(metadata, name),
      segmentCounts(metadata, name),
    ]);
    const partitions = [];
    for (let p = 0; p < topic.partitions; p++) {
      const state = states.get(`${name}/${p}`);
      partitions.push({
        partition: p,
        leader: leaders.get(`${name}/${p}`) ?? null,
        logStartOffset: state?.logStartOffset ?? null,
        highWatermark: state?.highWatermark ?? null,
        leaderEpoch: state?.leaderEpoch ?? null,
        segments: segments.get(p) ?? 0,
      });
    }
    return {
      name: topic.name,
      id: topic.id,
      partitions: topic.partitions,
      createdAt: new Date(topic.createdAt).toISOString(),
      configs: topic.configs,
      partitionStates: partitions,
    };
  });
  if (!described) {
    cli.err(`kafscale topics describe: no topic ${name}`);
    return 1;
  }
  if (values.json) {
    printJson(cli.out, described);
    return 0;
  }
  const configs = Object.entries(described.configs)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`);
  for (const line of fields([
    ['Topic', described.name],
    ['Topic ID', described.id],
    ['Partitions', described.partitions],
    ['Created', described.createdAt],
    ['Configs', configs.length > 0 ? configs.join(',') : null],
  ])) {
    cli.out(line);
  }
  cli.out('');
  const rows = described.partitionStates.map((p) => [
    p.partition,
    p.leader,
    p.logStartOffset,
    p.highWatermark,
    p.leaderEpoch,
    p.segments,
  ]);
  for (const line of table(
    ['PARTITION', 'LEADER', 'LOG START', 'HIGH WATERMARK', 'LEADER EPOCH', 'SEGMENTS'],
    rows,
  )) {
    cli.out(line);
  }
  return 0;
}

export const topicsCommand: CliCommand = {
  name: 'topics',
  summary: 'list and describe topics (partitions, leaders, offsets) from the metadata store',
  usage: USAGE,
  async run(args, cli) {
    const [sub, ...rest] = args;
    if (sub === 'list') return list(rest, cli);
    if (sub === 'describe') return describe(rest, cli);
    throw new UsageError(sub ? `unknown topics subcommand "${sub}"` : 'missing topics subcommand');
  },
};
