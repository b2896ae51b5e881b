import type { BrokerContext } from '../broker-context.js';
import type {
  OffsetFetchRequest,
  OffsetFetchResponse,
  OffsetFetchResponseTopics,
} from '../protocol/generated/index.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { Handler } from './handler.js';

/** OffsetFetch v0-9: one group (v0-7) or several (v8+); null topics means every committed one. */
export function offsetFetchHandler(
  broker: BrokerContext,
): Handler<OffsetFetchRequest, OffsetFetchResponse> {
  async function fetchGroup(
    groupId: string,
    topics: { name?: string; partitionIndexes?: number[] }[] | null | undefined,
    v: number,
  ): Promise<OffsetFetchResponseTopics[]> {
    await broker.groups.group(groupId);
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
    return [...wanted].map(([name, partitions]) => ({
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
            topics: await fetchGroup(g.groupId ?? '', g.topics, v),
            errorCode: ErrorCode.NONE,
          });
        }
        return { throttleTimeMs: 0, groups };
      }
      // v0 cannot ask for all topics: it always lists them.
      const topics = await fetchGroup(
        request.groupId ?? '',
        v >= 2 ? request.topics : (request.topics ?? []),
        v,
      );
      return {
        throttleTimeMs: 0,
        topics,
        errorCode: v >= 2 ? ErrorCode.NONE : undefined,
      };
    },
  };
}
