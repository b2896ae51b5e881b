import type { BrokerContext } from '../broker-context.js';
import type {
  OffsetFetchRequest,
  OffsetFetchResponse,
  OffsetFetchResponseTopics,
} from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { Handler } from './handler.js';
import { lookupGroup } from './group-lookup.js';

/** OffsetFetch v0-9: one group (v0-7) or several (v8+); null topics means every committed one. */
export function offsetFetchHandler(
  broker: BrokerContext,
): Handler<OffsetFetchRequest, OffsetFetchResponse> {
  async function fetchGroup(
    groupId: string,
    topics: { name?: string; partitionIndexes?: number[] }[] | null | undefined,
    v: number,
  ): Promise<{ errorCode: number; topics: OffsetFetchResponseTopics[] }> {
    const group = await lookupGroup(broker, groupId);
    if (typeof group === 'number') return { errorCode: group, topics: [] };
    const offsets = broker.groups.offsetsOf(groupId);
    const wanted = new Map<string, number[]>();
    if (topics == null) {
      for (const key of offsets.keys()) {
        const slash = key.lastIndexOf('/');
        const list = wanted.get(key.slice(0, slash)) ?? [];
        list.push(Number(key.slice(slash + 1)));
        wanted.set(key.slice(0, slash), list);
      }
    } else {
      for (const t of topics) wanted.set(t.name ?? '', t.partitionIndexes ?? []);
    }
    const topicsOut = [...wanted].map(([name, partitions]) => ({
      name,
      partitions: partitions.map((partitionIndex) => {
        const record = offsets.get(`${name}/${partitionIndex}`);
        return {
          partitionIndex,
          committedOffset: record?.offset ?? -1,
          committedLeaderEpoch: v >= 5 ? (record?.leaderEpoch ?? -1) : undefined,
          metadata: record?.metadata ?? '',
          errorCode: ErrorCode.NONE,
        };
      }),
    }));
    return { errorCode: ErrorCode.NONE, topics: topicsOut };
  }

  return {
    apiKey: 9,
    minVersion: 0,
    maxVersion: 9,
    async handle(request, ctx) {
      const v = ctx.apiVersion;
      if (v >= 8) {
        const groups = [];
        for (const g of request.groups ?? []) {
          groups.push({
            groupId: g.groupId ?? '',
            ...(await fetchGroup(g.groupId ?? '', g.topics, v)),
          });
        }
        return { throttleTimeMs: 0, groups };
      }
      // v0 cannot ask for all topics: it always lists them.
      const { errorCode, topics } = await fetchGroup(
        request.groupId ?? '',
        v >= 2 ? request.topics : (request.topics ?? []),
        v,
      );
      if (v >= 2) return { throttleTimeMs: 0, topics, errorCode };
      // v0-1 have no top-level error: it goes on every requested partition.
      const partitionsWithError = (request.topics ?? []).map((t) => ({
        name: t.name,
        partitions: (t.partitionIndexes ?? []).map((partitionIndex) => ({
          partitionIndex,
          committedOffset: -1,
          metadata: '',
          errorCode,
        })),
      }));
      return {
        throttleTimeMs: 0,
        topics: errorCode === ErrorCode.NONE ? topics : partitionsWithError,
      };
    },
  };
}
