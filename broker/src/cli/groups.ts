// `kafscale groups`: consumer groups, their committed offsets and lag, from the metadata store.
// Membership is what the store holds: the members of the group's last completed rebalance.

import { parseArgs } from 'node:util';
import type { ClusterMetadata } from '../metadata/cluster-metadata.js';
import type { GroupRecord, OffsetRecord, PartitionStateRecord } from '../metadata/model.js';
import { Reader } from '../protocol/codec/reader.js';
import { ConsumerProtocolAssignmentCodec } from '../protocol/generated/index.js';
import { UsageError, type CliCommand, type CliContext } from './command.js';
import { groupCoordinator, partitionStates, splitPartitionKey } from './cluster-state.js';
import { withClusterMetadata } from './metadata-access.js';
import { fields, printJson, table } from './table.js';

const USAGE = `Usage:
  kafscale groups list [--json]
  kafscale groups describe <group> [--json]

Offsets and lag come from the metadata store: lag is the partition's high watermark minus the
group's committed offset. Members are those of the group's last completed rebalance; the live
coordinator (a broker id) is shown when one holds the group.`;

interface OffsetRow {
  topic: string;
  partition: number;
  offset: number;
  logEndOffset: number | null;
  lag: number | null;
  metadata: string | null;
  consumerId: string | null;
}

/** A consumer-protocol assignment: "topic" -> partitions; undefined when it does not parse. */
function decodeAssignment(base64: string): Map<string, number[]> | undefined {
  try {
    const r = new Reader(Buffer.from(base64, 'base64'));
    if (r.remaining === 0) return new Map();
    const version = Math.min(r.int16(), ConsumerProtocolAssignmentCodec.maxVersion);
    const assignment = ConsumerProtocolAssignmentCodec.read(r, version);
    return new Map(assignment.assignedPartitions.map((t) => [t.topic, t.partitions]));
  } catch {
    return undefined;
  }
}

function offsetRows(
  group: GroupRecord | undefined,
  offsets: Map<string, OffsetRecord>,
  states: Map<string, PartitionStateRecord>,
): OffsetRow[] {
  const owners = new Map<string, string>();
  if (group?.protocolType === 'consumer') {
    for (const member of group.members) {
      for (const [topic, partitions] of decodeAssignment(member.assignment) ?? []) {
        for (const p of partitions) owners.set(`${topic}/${p}`, member.memberId);
      }
    }
  }
  return [...offsets]
    .map(([key, record]) => {
      const { topic, partition } = splitPartitionKey(key);
      const logEndOffset = states.get(key)?.highWatermark ?? null;
      return {
        topic,
        partition,
        offset: record.offset,
        logEndOffset,
        lag:
          logEndOffset === null || record.offset < 0
            ? null
            : Math.max(0, logEndOffset - record.offset),
        metadata: record.metadata,
        consumerId: owners.get(key) ?? null,
      };
    })
    .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
}

async function readGroup(
  metadata: ClusterMetadata,
  groupId: string,
  states: Map<string, PartitionStateRecord>,
) {
  const [{ group, offsets }, coordinator] = await Promise.all([
    metadata.loadGroup(groupId),
    groupCoordinator(metadata, groupId),
  ]);
  const rows = offsetRows(group, offsets, states);
  return {
    group: groupId,
    coordinator,
    protocolType: group?.protocolType ?? null,
    protocol: group?.protocolName ?? null,
    generation: group?.generationId ?? null,
    leader: group?.leaderId ?? null,
    members: (group?.members ?? []).map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      host: m.clientHost,
      assignment:
        group?.protocolType === 'consumer'
          ? Object.fromEntries(decodeAssignment(m.assignment) ?? [])
          : null,
    })),
    totalLag: rows.reduce((sum, r) => sum + (r.lag ?? 0), 0),
    offsets: rows,
    /** Whether the store holds the group: a record or committed offsets. */
    exists: group !== undefined || offsets.size > 0,
  };
}

async function list(args: string[], cli: CliContext): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } } });
  const groups = await withClusterMetadata(cli.env, async (metadata) => {
    const [ids, states] = await Promise.all([metadata.groupIds(), partitionStates(metadata)]);
    return Promise.all(ids.map((id) => readGroup(metadata, id, states)));
  });
  if (values.json) {
    printJson(
      cli.out,
      groups.map((g) => ({
        group: g.group,
        coordinator: g.coordinator,
        protocolType: g.protocolType,
        generation: g.generation,
        members: g.members.length,
        partitions: g.offsets.length,
        totalLag: g.totalLag,
      })),
    );
    return 0;
  }
  const rows = groups.map((g) => [
    g.group,
    g.protocolType,
    g.generation,
    g.members.length,
    g.coordinator,
    g.offsets.length,
    g.totalLag,
  ]);
  for (const line of table(
    ['GROUP', 'PROTOCOL TYPE', 'GENERATION', 'MEMBERS', 'COORDINATOR', 'PARTITIONS', 'LAG'],
    rows,
  )) {
    cli.out(line);
  }
  return 0;
}

async function describe(args: string[], cli: CliContext): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { json: { type: 'boolean' } },
  });
  if (positionals.length !== 1) throw new UsageError('expected exactly one group id');
  const groupId = positionals[0];
  const group = await withClusterMetadata(cli.env, async (metadata) =>
    readGroup(metadata, groupId, await partitionStates(metadata)),
  );
  if (!group.exists) {
    cli.err(`kafscale groups describe: no group ${groupId}`);
    return 1;
  }
  const { exists: _exists, ...described } = group;
  if (values.json) {
    printJson(cli.out, described);
    return 0;
  }
  for (const line of fields([
    ['Group', described.group],
    ['Coordinator', described.coordinator],
    ['Protocol type', described.protocolType],
    ['Protocol', described.protocol],
    ['Generation', described.generation],
    ['Leader', described.leader],
    ['Total lag', described.totalLag],
  ])) {
    cli.out(line);
  }
  cli.out('');
  const offsetLines = table(
    ['TOPIC', 'PARTITION', 'CURRENT OFFSET', 'LOG END OFFSET', 'LAG', 'CONSUMER ID'],
    described.offsets.map((o) => [
      o.topic,
      o.partition,
      o.offset,
      o.logEndOffset,
      o.lag,
      o.consumerId,
    ]),
  );
  for (const line of offsetLines) cli.out(line);
  if (described.members.length > 0) {
    cli.out('');
    const memberLines = table(
      ['MEMBER ID', 'CLIENT ID', 'HOST', 'ASSIGNMENT'],
      described.members.map((m) => [
        m.memberId,
        m.clientId,
        m.host,
        m.assignment
          ? Object.entries(m.assignment)
              .map(([t, ps]) => `${t}:${ps.join(',')}`)
              .join(' ')
          : null,
      ]),
    );
    for (const line of memberLines) cli.out(line);
  }
  return 0;
}

export const groupsCommand: CliCommand = {
  name: 'groups',
  summary: 'list and describe consumer groups (committed offsets, lag) from the metadata store',
  usage: USAGE,
  async run(args, cli) {
    const [sub, ...rest] = args;
    if (sub === 'list') return list(rest, cli);
    if (sub === 'describe') return describe(rest, cli);
    throw new UsageError(sub ? `unknown groups subcommand "${sub}"` : 'missing groups subcommand');
  },
};
