// The classic group state machine driven directly, without a network: joins, syncs, heartbeats,
// leaves and the timers (session, rebalance, initial delay) with small real timeouts.
import {
  ConsumerGroup,
  type GroupOptions,
  type JoinRequest,
  type JoinResult,
  type SyncResult,
} from '../../src/groups/consumer-group.js';
import type { GroupRecord } from '../../src/metadata/model.js';
import { ErrorCode } from '../../src/protocol/error-codes.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const SUB = Buffer.from('subscription-v1');
const range = [{ name: 'range', metadata: SUB }];

function joinRequest(overrides: Partial<JoinRequest> = {}): JoinRequest {
  return {
    memberId: '',
    groupInstanceId: null,
    clientId: 'client',
    clientHost: '127.0.0.1',
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    protocolType: 'consumer',
    protocols: range,
    requireKnownMemberId: false,
    ...overrides,
  };
}

const groups: ConsumerGroup[] = [];

interface Harness {
  group: ConsumerGroup;
  /** What onStable persisted, in order. */
  persisted: GroupRecord[];
}

function newGroup(options: Partial<GroupOptions> = {}): Harness {
  const persisted: GroupRecord[] = [];
  const group = new ConsumerGroup('g', {
    initialRebalanceDelayMs: 0,
    onStable: (g) => persisted.push(g.toRecord()),
    ...options,
  });
  groups.push(group);
  return { group, persisted };
}

afterEach(() => {
  for (const g of groups.splice(0)) g.kill();
});

/** Tracks whether a promise settled, to assert that a join or sync is still waiting. */
function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let done = false;
  void promise.then(() => {
    done = true;
  });
  return { promise, settled: () => done };
}

/** Resolves after pending microtasks and immediate timers ran. */
const tick = () => new Promise((resolve) => setImmediate(resolve));

function sync(
  group: ConsumerGroup,
  memberId: string,
  generationId: number,
  assignments: { memberId: string; assignment: Buffer }[] = [],
  groupInstanceId: string | null = null,
): Promise<SyncResult> {
  return group.sync(memberId, groupInstanceId, generationId, 'consumer', 'range', assignments);
}

/**
 * Forms a stable group of dynamic members that joined together (initial delay collects them),
 * the leader assigning `assignment-<index>` to each.
 */
async function stableGroup(
  overrides: Partial<JoinRequest>[],
  options: Partial<GroupOptions> = {},
): Promise<Harness & { joins: JoinResult[]; ids: string[]; leader: string; generation: number }> {
  const harness = newGroup({ initialRebalanceDelayMs: 30, ...options });
  const joins = await Promise.all(
    overrides.map((o, i) => harness.group.join(joinRequest({ clientId: `c${i}`, ...o }))),
  );
  for (const j of joins) expect(j.errorCode).toBe(ErrorCode.NONE);
  const ids = joins.map((j) => j.memberId);
  const leader = joins[0].leader;
  const generation = joins[0].generationId;
  const assignments = ids.map((memberId, i) => ({
    memberId,
    assignment: Buffer.from(`assignment-${i}`),
  }));
  const syncs = await Promise.all(
    ids.map((id, i) =>
      sync(
        harness.group,
        id,
        generation,
        id === leader ? assignments : [],
        overrides[i].groupInstanceId ?? null,
      ),
    ),
  );
  syncs.forEach((s, i) => {
    expect(s.errorCode).toBe(ErrorCode.NONE);
    expect(s.assignment).toEqual(Buffer.from(`assignment-${i}`));
  });
  expect(harness.group.state).toBe('Stable');
  return { ...harness, joins, ids, leader, generation };
}

describe('join and sync', () => {
  test('two members joining together form one generation; only the leader gets the members', async () => {
    const { group } = newGroup({ initialRebalanceDelayMs: 50 });
    const metaA = Buffer.from('a-subscription');
    const metaB = Buffer.from('b-subscription');
    const [a, b] = await Promise.all([
      group.join(joinRequest({ clientId: 'a', protocols: [{ name: 'range', metadata: metaA }] })),
      group.join(joinRequest({ clientId: 'b', protocols: [{ name: 'range', metadata: metaB }] })),
    ]);
    expect(a.errorCode).toBe(ErrorCode.NONE);
    expect(b.errorCode).toBe(ErrorCode.NONE);
    expect(a.generationId).toBe(1);
    expect(b.generationId).toBe(1);
    expect(a.memberId).not.toBe(b.memberId);
    expect(a.memberId.startsWith('a-')).toBe(true);
    expect(a.leader).toBe(b.leader);
    expect([a.memberId, b.memberId]).toContain(a.leader);
    expect(a.protocolType).toBe('consumer');
    expect(a.protocolName).toBe('range');
    expect(b.protocolName).toBe('range');
    const [leader, follower] = a.leader === a.memberId ? [a, b] : [b, a];
    expect(follower.members).toEqual([]);
    expect(leader.members).toEqual(
      expect.arrayContaining([
        { memberId: a.memberId, groupInstanceId: null, metadata: metaA },
        { memberId: b.memberId, groupInstanceId: null, metadata: metaB },
      ]),
    );
    expect(leader.members).toHaveLength(2);
    expect(group.state).toBe('CompletingRebalance');
    expect(group.size).toBe(2);
  });

  test("followers' sync waits for the leader's, which distributes the assignments", async () => {
    const { group, persisted } = newGroup({ initialRebalanceDelayMs: 30 });
    const [a, b, c] = await Promise.all([
      group.join(joinRequest({ clientId: 'a' })),
      group.join(joinRequest({ clientId: 'b' })),
      group.join(joinRequest({ clientId: 'c' })),
    ]);
    const all = [a, b, c];
    const leader = all.find((j) => j.memberId === j.leader)!;
    const followers = all.filter((j) => j !== leader);
    const followerSyncs = followers.map((f) => track(sync(group, f.memberId, f.generationId)));
    await tick();
    await sleep(20);
    expect(followerSyncs.map((s) => s.settled())).toEqual([false, false]);
    expect(group.state).toBe('CompletingRebalance');
    expect(persisted).toHaveLength(0);

    const assignments = all.map((j) => ({
      memberId: j.memberId,
      assignment: Buffer.from(`for-${j.memberId}`),
    }));
    const leaderSync = await sync(group, leader.memberId, leader.generationId, assignments);
    expect(leaderSync).toEqual({
      errorCode: ErrorCode.NONE,
      protocolType: 'consumer',
      protocolName: 'range',
      assignment: Buffer.from(`for-${leader.memberId}`),
    });
    const results = await Promise.all(followerSyncs.map((s) => s.promise));
    results.forEach((r, i) => {
      expect(r.errorCode).toBe(ErrorCode.NONE);
      expect(r.assignment).toEqual(Buffer.from(`for-${followers[i].memberId}`));
    });
    expect(group.state).toBe('Stable');
    // The completed generation was persisted with its assignments.
    expect(persisted).toHaveLength(1);
    expect(persisted[0].generationId).toBe(1);
    const saved = new Map(persisted[0].members.map((m) => [m.memberId, m.assignment]));
    for (const j of all)
      expect(saved.get(j.memberId)).toBe(Buffer.from(`for-${j.memberId}`).toString('base64'));
  });

  test("a follower syncing after the leader's sync gets its assignment at once", async () => {
    const { group } = newGroup({ initialRebalanceDelayMs: 30 });
    const [a, b] = await Promise.all([
      group.join(joinRequest({ clientId: 'a' })),
      group.join(joinRequest({ clientId: 'b' })),
    ]);
    const leader = a.memberId === a.leader ? a : b;
    const follower = leader === a ? b : a;
    const leaderSync = await sync(group, leader.memberId, 1, [
      { memberId: follower.memberId, assignment: Buffer.from('follower-part') },
      // No entry for the leader itself: it gets an empty assignment.
    ]);
    expect(leaderSync.errorCode).toBe(ErrorCode.NONE);
    expect(leaderSync.assignment).toEqual(Buffer.alloc(0));
    expect(group.state).toBe('Stable');
    const followerSync = await sync(group, follower.memberId, 1);
    expect(followerSync.errorCode).toBe(ErrorCode.NONE);
    expect(followerSync.assignment).toEqual(Buffer.from('follower-part'));
  });

  test('sync with another protocol name or type is INCONSISTENT_GROUP_PROTOCOL', async () => {
    const { group } = newGroup();
    const a = await group.join(joinRequest());
    const other = await group.sync(a.memberId, null, 1, 'consumer', 'roundrobin', []);
    expect(other.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const otherType = await group.sync(a.memberId, null, 1, 'connect', 'range', []);
    expect(otherType.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    // v0-v4 syncs carry neither: accepted.
    const old = await group.sync(a.memberId, null, 1, null, null, []);
    expect(old.errorCode).toBe(ErrorCode.NONE);
  });

  test('a single member with no initial delay completes its own generation immediately', async () => {
    const { group } = newGroup({ initialRebalanceDelayMs: 0 });
    const a = await group.join(joinRequest());
    expect(a).toMatchObject({ errorCode: ErrorCode.NONE, generationId: 1, leader: a.memberId });
    expect(a.members).toHaveLength(1);
  });
});

describe('rebalances', () => {
  test('a third member joining a stable group starts a rebalance; the old generation is fenced', async () => {
    const { group, ids, generation, leader } = await stableGroup([{}, {}]);
    expect(generation).toBe(1);
    const joinC = track(group.join(joinRequest({ clientId: 'c' })));
    await tick();
    expect(group.state).toBe('PreparingRebalance');
    expect(joinC.settled()).toBe(false);
    // Heartbeats of the current members tell them to rejoin; commits of the current
    // generation are still accepted while the group prepares the rebalance (as in Kafka).
    for (const id of ids) {
      expect(group.heartbeat(id, null, generation)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
      expect(group.validateMember(id, null, generation)).toBe(ErrorCode.NONE);
    }
    // A sync of the old generation while preparing: the member must rejoin.
    expect((await sync(group, ids[1], generation)).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);

    const rejoins = ids.map((id) => group.join(joinRequest({ memberId: id })));
    const [a2, b2, c] = await Promise.all([...rejoins, joinC.promise]);
    for (const j of [a2, b2, c]) {
      expect(j.errorCode).toBe(ErrorCode.NONE);
      expect(j.generationId).toBe(2);
      expect(j.leader).toBe(leader);
    }
    expect(a2.memberId).toBe(ids[0]);
    expect(b2.memberId).toBe(ids[1]);
    const leaderJoin = [a2, b2, c].find((j) => j.memberId === leader)!;
    expect(leaderJoin.members.map((m) => m.memberId).sort()).toEqual([...ids, c.memberId].sort());

    // The old generation is now illegal for commits, heartbeats and syncs.
    expect(group.validateMember(ids[0], null, generation)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect(group.heartbeat(ids[0], null, generation)).toBe(ErrorCode.ILLEGAL_GENERATION);
    expect((await sync(group, ids[1], generation)).errorCode).toBe(ErrorCode.ILLEGAL_GENERATION);
    // In CompletingRebalance heartbeats of the new generation are fine.
    expect(group.state).toBe('CompletingRebalance');
    expect(group.heartbeat(c.memberId, null, 2)).toBe(ErrorCode.NONE);
  });

  test('a rebalance while followers wait in sync sends them back to join', async () => {
    const { group } = newGroup({ initialRebalanceDelayMs: 30 });
    const [a, b] = await Promise.all([
      group.join(joinRequest({ clientId: 'a' })),
      group.join(joinRequest({ clientId: 'b' })),
    ]);
    const follower = a.memberId === a.leader ? b : a;
    const waiting = sync(group, follower.memberId, 1);
    const joinC = group.join(joinRequest({ clientId: 'c' }));
    expect((await waiting).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(group.state).toBe('PreparingRebalance');
    await Promise.all([
      group.join(joinRequest({ memberId: a.memberId })),
      group.join(joinRequest({ memberId: b.memberId })),
      joinC,
    ]);
    expect(group.generationId).toBe(2);
    expect(group.size).toBe(3);
  });

  test('a follower rejoining a stable group unchanged gets the current generation, the leader rebalances', async () => {
    const { group, ids, leader, generation } = await stableGroup([{}, {}]);
    const follower = ids.find((id) => id !== leader)!;
    const again = await group.join(joinRequest({ memberId: follower }));
    expect(again).toMatchObject({ errorCode: ErrorCode.NONE, generationId: generation, leader });
    expect(group.state).toBe('Stable');

    const leaderJoin = track(group.join(joinRequest({ memberId: leader })));
    await tick();
    expect(group.state).toBe('PreparingRebalance');
    expect(leaderJoin.settled()).toBe(false);
    await group.join(joinRequest({ memberId: follower }));
    expect((await leaderJoin.promise).generationId).toBe(generation + 1);
  });

  test('a member whose session expires is removed and the group rebalances', async () => {
    const { group, ids, generation } = await stableGroup([
      { sessionTimeoutMs: 200 },
      { sessionTimeoutMs: 200 },
    ]);
    const [keeper, quiet] = ids;
    // keeper heartbeats, quiet does not.
    const deadline = Date.now() + 1500;
    let code: number = ErrorCode.NONE;
    while (Date.now() < deadline) {
      code = group.heartbeat(keeper, null, generation);
      if (code !== ErrorCode.NONE) break;
      await sleep(40);
    }
    expect(code).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(group.hasMember(quiet)).toBe(false);
    expect(group.heartbeat(quiet, null, generation)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const rejoin = await group.join(joinRequest({ memberId: keeper, sessionTimeoutMs: 200 }));
    expect(rejoin).toMatchObject({
      errorCode: ErrorCode.NONE,
      generationId: generation + 1,
      leader: keeper,
    });
    expect(rejoin.members.map((m) => m.memberId)).toEqual([keeper]);
  });

  test('members that do not rejoin within the rebalance timeout are dropped', async () => {
    const { group, ids, generation } = await stableGroup([
      { rebalanceTimeoutMs: 250 },
      { rebalanceTimeoutMs: 250 },
    ]);
    const [rejoiner, laggard] = ids;
    const started = Date.now();
    const joinC = group.join(joinRequest({ clientId: 'c', rebalanceTimeoutMs: 250 }));
    const joinA = group.join(joinRequest({ memberId: rejoiner, rebalanceTimeoutMs: 250 }));
    // The laggard keeps heartbeating (its session is fine) but never rejoins.
    const heartbeats = setInterval(() => group.heartbeat(laggard, null, generation), 30);
    const [c, a] = await Promise.all([joinC, joinA]);
    clearInterval(heartbeats);
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(c.errorCode).toBe(ErrorCode.NONE);
    expect(a.errorCode).toBe(ErrorCode.NONE);
    expect(a.generationId).toBe(generation + 1);
    expect(group.hasMember(laggard)).toBe(false);
    expect(group.size).toBe(2);
    expect(group.heartbeat(laggard, null, generation)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const leaderJoin = [a, c].find((j) => j.memberId === j.leader)!;
    expect(leaderJoin.members.map((m) => m.memberId).sort()).toEqual([rejoiner, c.memberId].sort());
  });

  test('the initial rebalance delay collects members joining one after another', async () => {
    const { group } = newGroup({ initialRebalanceDelayMs: 300 });
    const started = Date.now();
    const first = track(group.join(joinRequest({ clientId: 'a' })));
    await sleep(80);
    const second = group.join(joinRequest({ clientId: 'b' }));
    await sleep(80);
    const third = group.join(joinRequest({ clientId: 'c' }));
    expect(first.settled()).toBe(false);
    const results = await Promise.all([first.promise, second, third]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(results.map((r) => r.generationId)).toEqual([1, 1, 1]);
    expect(results.map((r) => r.errorCode)).toEqual([0, 0, 0]);
    expect(results.find((r) => r.memberId === r.leader)!.members).toHaveLength(3);
  });

  test('the initial delay applies only to an empty group', async () => {
    const { group, ids } = await stableGroup([{}], { initialRebalanceDelayMs: 300 });
    const started = Date.now();
    // b's join starts a rebalance of the stable group; it completes as soon as a rejoins.
    const joinB = group.join(joinRequest({ clientId: 'b' }));
    const [a, b] = await Promise.all([group.join(joinRequest({ memberId: ids[0] })), joinB]);
    expect(Date.now() - started).toBeLessThan(250);
    expect(a.generationId).toBe(2);
    expect(b.generationId).toBe(2);
  });

  test('members awaiting a join or a sync are not expired by their session timeout (as in Kafka)', async () => {
    // Kafka: "Members that are awaiting a rebalance automatically satisfy expected heartbeats".
    // A member waits in JoinGroup (and does not heartbeat) until the slow member rejoins, which
    // may take up to the rebalance timeout, well beyond the session timeout.
    const { group, ids, leader, generation } = await stableGroup([
      { sessionTimeoutMs: 150, rebalanceTimeoutMs: 5000 },
      { sessionTimeoutMs: 150, rebalanceTimeoutMs: 5000 },
    ]);
    const follower = ids.find((id) => id !== leader)!;
    // The follower changes its subscription: a rebalance, and it waits for the leader.
    const followerJoin = track(
      group.join(
        joinRequest({
          memberId: follower,
          sessionTimeoutMs: 150,
          rebalanceTimeoutMs: 5000,
          protocols: [{ name: 'range', metadata: Buffer.from('new-subscription') }],
        }),
      ),
    );
    // The leader is busy for 4 session timeouts, heartbeating meanwhile.
    for (let i = 0; i < 15; i++) {
      expect(group.heartbeat(leader, null, generation)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
      await sleep(40);
    }
    expect(followerJoin.settled()).toBe(false);
    const leaderJoin = await group.join(
      joinRequest({ memberId: leader, sessionTimeoutMs: 150, rebalanceTimeoutMs: 5000 }),
    );
    const followerResult = await followerJoin.promise;
    expect(followerResult.errorCode).toBe(ErrorCode.NONE);
    expect(followerResult.generationId).toBe(generation + 1);
    expect(leaderJoin.members).toHaveLength(2);

    // Now the follower waits in SyncGroup while the leader takes longer than a session.
    const followerSync = track(sync(group, follower, generation + 1));
    for (let i = 0; i < 15; i++) {
      expect(group.heartbeat(leader, null, generation + 1)).toBe(ErrorCode.NONE);
      await sleep(40);
    }
    expect(followerSync.settled()).toBe(false);
    await sync(group, leader, generation + 1, [
      { memberId: follower, assignment: Buffer.from('late') },
    ]);
    const synced = await followerSync.promise;
    expect(synced.errorCode).toBe(ErrorCode.NONE);
    expect(synced.assignment).toEqual(Buffer.from('late'));
    expect(group.state).toBe('Stable');
  });
});

describe('leave', () => {
  test('a leaving member triggers a rebalance; the last one leaves the group empty', async () => {
    const { group, ids, leader, generation, persisted } = await stableGroup([{}, {}]);
    const follower = ids.find((id) => id !== leader)!;
    expect(group.leave(leader, null)).toBe(ErrorCode.NONE);
    expect(group.state).toBe('PreparingRebalance');
    expect(group.heartbeat(follower, null, generation)).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(group.leave(leader, null)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const rejoin = await group.join(joinRequest({ memberId: follower }));
    // The remaining member becomes the leader of the next generation.
    expect(rejoin).toMatchObject({
      errorCode: ErrorCode.NONE,
      generationId: generation + 1,
      leader: follower,
    });
    await sync(group, follower, generation + 1, [{ memberId: follower, assignment: SUB }]);
    const before = persisted.length;
    expect(group.leave(follower, null)).toBe(ErrorCode.NONE);
    expect(group.state).toBe('Empty');
    expect(group.size).toBe(0);
    expect(group.generationId).toBe(generation + 2);
    expect(persisted.length).toBe(before + 1);
    expect(persisted.at(-1)!.members).toEqual([]);
    expect(group.heartbeat(follower, null, generation + 2)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  test('a member leaving while the others wait in join completes the join without it', async () => {
    const { group, ids, leader, generation } = await stableGroup([{}, {}, {}]);
    const [x, y, z] = ids;
    const joinX = track(group.join(joinRequest({ memberId: x })));
    const joinY = track(group.join(joinRequest({ memberId: y })));
    await tick();
    expect(joinX.settled()).toBe(false);
    // z never rejoins; its leave ends the wait for everyone.
    expect(group.leave(z, null)).toBe(ErrorCode.NONE);
    const [rx, ry] = await Promise.all([joinX.promise, joinY.promise]);
    expect(rx.generationId).toBe(generation + 1);
    expect(ry.generationId).toBe(generation + 1);
    const leaderResult = [rx, ry].find((r) => r.memberId === r.leader)!;
    expect(leaderResult.members.map((m) => m.memberId).sort()).toEqual([x, y].sort());
    if (leader !== z) expect(leaderResult.memberId).toBe(leader);
  });

  test('a member leaving while it waits in join gets UNKNOWN_MEMBER_ID for that join', async () => {
    const { group, ids, generation } = await stableGroup([{}, {}]);
    const [a, b] = ids;
    const joinA = group.join(joinRequest({ memberId: a }));
    expect(group.leave(a, null)).toBe(ErrorCode.NONE);
    expect((await joinA).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const rb = await group.join(joinRequest({ memberId: b }));
    expect(rb).toMatchObject({
      errorCode: ErrorCode.NONE,
      generationId: generation + 1,
      leader: b,
    });
  });

  test('a member leaving while a follower waits in sync rebalances the group', async () => {
    const { group } = newGroup({ initialRebalanceDelayMs: 30 });
    const [a, b, c] = await Promise.all([
      group.join(joinRequest({ clientId: 'a' })),
      group.join(joinRequest({ clientId: 'b' })),
      group.join(joinRequest({ clientId: 'c' })),
    ]);
    const followers = [a, b, c].filter((j) => j.memberId !== j.leader);
    const waiting = sync(group, followers[0].memberId, 1);
    expect(group.leave(followers[1].memberId, null)).toBe(ErrorCode.NONE);
    expect((await waiting).errorCode).toBe(ErrorCode.REBALANCE_IN_PROGRESS);
    expect(group.state).toBe('PreparingRebalance');
  });
});

describe('member ids and errors', () => {
  test('JoinGroup v4+: MEMBER_ID_REQUIRED first, then the join with that id', async () => {
    const { group } = newGroup();
    const first = await group.join(joinRequest({ clientId: 'kc', requireKnownMemberId: true }));
    expect(first.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    expect(first.memberId).toMatch(/^kc-/);
    expect(first.generationId).toBe(-1);
    expect(group.size).toBe(0);
    expect(group.state).toBe('Empty');
    const second = await group.join(
      joinRequest({ clientId: 'kc', memberId: first.memberId, requireKnownMemberId: true }),
    );
    expect(second).toMatchObject({
      errorCode: ErrorCode.NONE,
      memberId: first.memberId,
      generationId: 1,
      leader: first.memberId,
    });
  });

  test('a rebalance waits for a member that was given an id and joins with it', async () => {
    const { group, ids, generation } = await stableGroup([{}]);
    const pending = await group.join(joinRequest({ clientId: 'late', requireKnownMemberId: true }));
    expect(pending.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    // The leader rejoins: the rebalance must wait for the pending member too.
    const leaderJoin = track(group.join(joinRequest({ memberId: ids[0] })));
    await sleep(50);
    expect(leaderJoin.settled()).toBe(false);
    const late = await group.join(
      joinRequest({ clientId: 'late', memberId: pending.memberId, requireKnownMemberId: true }),
    );
    const leader = await leaderJoin.promise;
    expect(late.generationId).toBe(generation + 1);
    expect(leader.generationId).toBe(generation + 1);
    expect(leader.members.map((m) => m.memberId).sort()).toEqual([ids[0], pending.memberId].sort());
  });

  test('a pending member that never joins stops holding the rebalance after its session timeout', async () => {
    const { group, ids, generation } = await stableGroup([{}]);
    const pending = await group.join(
      joinRequest({ sessionTimeoutMs: 200, requireKnownMemberId: true }),
    );
    expect(pending.errorCode).toBe(ErrorCode.MEMBER_ID_REQUIRED);
    const started = Date.now();
    const leader = await group.join(joinRequest({ memberId: ids[0] }));
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    expect(leader.generationId).toBe(generation + 1);
    expect(leader.members.map((m) => m.memberId)).toEqual([ids[0]]);
    // Its id is no longer valid.
    const stale = await group.join(joinRequest({ memberId: pending.memberId }));
    expect(stale.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });

  test('unknown member ids get UNKNOWN_MEMBER_ID everywhere', async () => {
    const { group, generation } = await stableGroup([{}]);
    const join = await group.join(joinRequest({ memberId: 'nobody' }));
    expect(join).toMatchObject({ errorCode: ErrorCode.UNKNOWN_MEMBER_ID, memberId: 'nobody' });
    expect(group.heartbeat('nobody', null, generation)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect((await sync(group, 'nobody', generation)).errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(group.leave('nobody', null)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(group.validateMember('nobody', null, generation)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    // A heartbeat to an empty group too.
    const empty = newGroup().group;
    expect(empty.heartbeat('nobody', null, 0)).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    expect(group.state).toBe('Stable');
  });

  test('an inconsistent protocol type or protocol set is INCONSISTENT_GROUP_PROTOCOL', async () => {
    const { group } = await stableGroup([
      {
        protocols: [
          { name: 'range', metadata: SUB },
          { name: 'roundrobin', metadata: SUB },
        ],
      },
    ]);
    const otherType = await group.join(joinRequest({ protocolType: 'connect' }));
    expect(otherType.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const noCommon = await group.join(
      joinRequest({ protocols: [{ name: 'cooperative-sticky', metadata: SUB }] }),
    );
    expect(noCommon.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    const none = await group.join(joinRequest({ protocols: [] }));
    expect(none.errorCode).toBe(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    // Nothing changed.
    expect(group.state).toBe('Stable');
    expect(group.size).toBe(1);
    // Even an empty group refuses a join without protocols or protocol type.
    const empty = newGroup().group;
    expect((await empty.join(joinRequest({ protocols: [] }))).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    expect((await empty.join(joinRequest({ protocolType: '' }))).errorCode).toBe(
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
  });

  test('the protocol most members prefer among those all support is selected', async () => {
    const p = (...names: string[]) => names.map((name) => ({ name, metadata: Buffer.from(name) }));
    const { group } = newGroup({ initialRebalanceDelayMs: 50 });
    const results = await Promise.all([
      group.join(joinRequest({ protocols: p('sticky', 'roundrobin', 'range') })),
      group.join(joinRequest({ protocols: p('roundrobin', 'range') })),
      group.join(joinRequest({ protocols: p('roundrobin', 'range', 'sticky') })),
      group.join(joinRequest({ protocols: p('range', 'roundrobin') })),
    ]);
    // sticky is not supported by all; roundrobin gets 3 votes, range 1.
    for (const r of results) expect(r.protocolName).toBe('roundrobin');
    const leader = results.find((r) => r.memberId === r.leader)!;
    // The leader sees each member's metadata for the selected protocol.
    for (const m of leader.members) expect(m.metadata).toEqual(Buffer.from('roundrobin'));
  });

  test('an empty group takes the protocol type of its next first member', async () => {
    const { group, ids } = await stableGroup([{}]);
    expect(group.leave(ids[0], null)).toBe(ErrorCode.NONE);
    expect(group.state).toBe('Empty');
    const next = await group.join(
      joinRequest({ protocolType: 'connect', protocols: [{ name: 'default', metadata: SUB }] }),
    );
    expect(next.errorCode).toBe(ErrorCode.NONE);
    expect(next.protocolType).toBe('connect');
    const synced = await group.sync(next.memberId, null, next.generationId, 'connect', 'default', [
      { memberId: next.memberId, assignment: SUB },
    ]);
    expect(synced.errorCode).toBe(ErrorCode.NONE);
    expect(synced.protocolType).toBe('connect');
  });

  test('a killed (deleted) group answers COORDINATOR_NOT_AVAILABLE', async () => {
    const { group, ids, generation } = await stableGroup([{}]);
    group.kill();
    expect(group.state).toBe('Dead');
    expect(group.size).toBe(0);
    expect((await group.join(joinRequest())).errorCode).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(group.heartbeat(ids[0], null, generation)).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    expect(group.leave(ids[0], null)).toBe(ErrorCode.COORDINATOR_NOT_AVAILABLE);
  });
});

describe('static membership', () => {
  test('a restarted static member keeps its assignment without a rebalance; its old id is fenced', async () => {
    const { group, ids, leader, generation, persisted } = await stableGroup([
      { groupInstanceId: 'instance-a' },
      { groupInstanceId: 'instance-b' },
    ]);
    const followerIndex = ids[0] === leader ? 1 : 0;
    const instance = followerIndex === 0 ? 'instance-a' : 'instance-b';
    const oldId = ids[followerIndex];
    const otherId = ids[1 - followerIndex];
    expect(oldId.startsWith(`${instance}-`)).toBe(true);
    const persistedBefore = persisted.length;

    const restarted = await group.join(joinRequest({ groupInstanceId: instance }));
    expect(restarted.errorCode).toBe(ErrorCode.NONE);
    expect(restarted.memberId).not.toBe(oldId);
    expect(restarted.generationId).toBe(generation);
    expect(restarted.leader).toBe(leader);
    expect(restarted.members).toEqual([]);
    expect(group.state).toBe('Stable');
    // The new id is persisted at once.
    expect(persisted.length).toBe(persistedBefore + 1);
    expect(persisted.at(-1)!.members.map((m) => m.memberId)).toContain(restarted.memberId);

    const synced = await sync(group, restarted.memberId, generation, [], instance);
    expect(synced.errorCode).toBe(ErrorCode.NONE);
    expect(synced.assignment).toEqual(Buffer.from(`assignment-${followerIndex}`));
    // The other member never noticed.
    expect(group.heartbeat(otherId, null, generation)).toBe(ErrorCode.NONE);

    // The old incarnation is fenced everywhere.
    expect(group.heartbeat(oldId, instance, generation)).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(group.validateMember(oldId, instance, generation)).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect((await sync(group, oldId, generation, [], instance)).errorCode).toBe(
      ErrorCode.FENCED_INSTANCE_ID,
    );
    const oldJoin = await group.join(joinRequest({ memberId: oldId, groupInstanceId: instance }));
    expect(oldJoin.errorCode).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(group.leave(oldId, instance)).toBe(ErrorCode.FENCED_INSTANCE_ID);
    expect(group.state).toBe('Stable');
    expect(group.generationId).toBe(generation);
  });

  test('a restarted static leader keeps the group stable and does not assign again', async () => {
    const { group, ids, leader, generation } = await stableGroup([
      { groupInstanceId: 'instance-a' },
      { groupInstanceId: 'instance-b' },
    ]);
    const instance = ids[0] === leader ? 'instance-a' : 'instance-b';
    const index = ids.indexOf(leader);
    const restarted = await group.join(joinRequest({ groupInstanceId: instance }));
    expect(restarted.errorCode).toBe(ErrorCode.NONE);
    expect(restarted.generationId).toBe(generation);
    // As in Kafka: the response names the old leader id so that the restarted leader, whose id
    // changed, acts as a follower (a stable group would not broadcast a new assignment).
    expect(restarted.leader).toBe(leader);
    expect(restarted.leader).not.toBe(restarted.memberId);
    expect(restarted.members).toEqual([]);
    expect(group.state).toBe('Stable');
    const synced = await sync(group, restarted.memberId, generation, [], instance);
    expect(synced.assignment).toEqual(Buffer.from(`assignment-${index}`));
    // The next rebalance is led by the new incarnation.
    const other = ids.find((id) => id !== leader)!;
    const [r1, r2] = await Promise.all([
      group.join(joinRequest({ memberId: restarted.memberId, groupInstanceId: instance })),
      group.join(
        joinRequest({
          memberId: other,
          groupInstanceId: instance === 'instance-a' ? 'instance-b' : 'instance-a',
          protocols: [{ name: 'range', metadata: Buffer.from('changed') }],
        }),
      ),
    ]);
    expect(r1.generationId).toBe(generation + 1);
    expect(r1.leader).toBe(restarted.memberId);
    expect(r1.members).toHaveLength(2);
    expect(r2.members).toEqual([]);
  });

  test('a static member with a changed subscription rebalances; unknown instance with an id is rejected', async () => {
    const { group, ids, generation } = await stableGroup([
      { groupInstanceId: 'instance-a' },
      { groupInstanceId: 'instance-b' },
    ]);
    const unknown = await group.join(
      joinRequest({ memberId: 'made-up', groupInstanceId: 'instance-z' }),
    );
    expect(unknown.errorCode).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
    const changed = track(
      group.join(
        joinRequest({
          groupInstanceId: 'instance-a',
          protocols: [{ name: 'range', metadata: Buffer.from('more-topics') }],
        }),
      ),
    );
    await tick();
    expect(group.state).toBe('PreparingRebalance');
    expect(group.heartbeat(ids[0], 'instance-a', generation)).toBe(ErrorCode.FENCED_INSTANCE_ID);
    const b = await group.join(joinRequest({ memberId: ids[1], groupInstanceId: 'instance-b' }));
    const a = await changed.promise;
    expect(a.generationId).toBe(generation + 1);
    expect(b.generationId).toBe(generation + 1);
    expect(a.memberId).not.toBe(ids[0]);
  });

  test('a static member leaves by instance id', async () => {
    const { group, ids } = await stableGroup([{ groupInstanceId: 'instance-a' }, {}]);
    expect(group.leave('', 'instance-a')).toBe(ErrorCode.NONE);
    expect(group.hasMember(ids[0])).toBe(false);
    expect(group.state).toBe('PreparingRebalance');
    expect(group.leave('', 'instance-a')).toBe(ErrorCode.UNKNOWN_MEMBER_ID);
  });
});

describe('persistence', () => {
  test('toRecord/fromRecord round trip restores a stable group that members keep using', async () => {
    const { group, ids, leader, generation, persisted } = await stableGroup([
      { groupInstanceId: 'static-1', sessionTimeoutMs: 10_000 },
      { clientId: 'dyn', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 20_000 },
    ]);
    const record = JSON.parse(JSON.stringify(group.toRecord())) as GroupRecord;
    expect(record).toEqual(persisted.at(-1));
    expect(record).toMatchObject({
      groupId: 'g',
      protocolType: 'consumer',
      protocolName: 'range',
      generationId: generation,
      leaderId: leader,
    });
    expect(record.members).toHaveLength(2);
    const dyn = record.members.find((m) => m.memberId === ids[1])!;
    expect(dyn).toEqual({
      memberId: ids[1],
      groupInstanceId: null,
      clientId: 'dyn',
      clientHost: '127.0.0.1',
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 20_000,
      metadata: SUB.toString('base64'),
      assignment: Buffer.from('assignment-1').toString('base64'),
    });
    group.kill();

    const loadedPersisted: GroupRecord[] = [];
    const loaded = ConsumerGroup.fromRecord(record, {
      initialRebalanceDelayMs: 0,
      onStable: (g) => loadedPersisted.push(g.toRecord()),
    });
    groups.push(loaded);
    expect(loaded.state).toBe('Stable');
    expect(loaded.generationId).toBe(generation);
    expect(loaded.leaderId).toBe(leader);
    expect(loaded.toRecord()).toEqual(record);
    const described = new Map(loaded.describeMembers().map((m) => [m.memberId, m]));
    expect(described.get(ids[1])!.memberAssignment).toEqual(Buffer.from('assignment-1'));
    expect(described.get(ids[1])!.memberMetadata).toEqual(SUB);
    expect(described.get(ids[0])!.groupInstanceId).toBe('static-1');

    // Members carry on: heartbeats, syncs and commits of their generation are valid.
    expect(loaded.heartbeat(ids[1], null, generation)).toBe(ErrorCode.NONE);
    expect(loaded.validateMember(ids[0], 'static-1', generation)).toBe(ErrorCode.NONE);
    const again = await sync(loaded, ids[1], generation);
    expect(again.assignment).toEqual(Buffer.from('assignment-1'));
    // The static mapping survived: a wrong member id for the instance is fenced.
    expect(loaded.heartbeat('impostor', 'static-1', generation)).toBe(ErrorCode.FENCED_INSTANCE_ID);
    // A new member rebalances the loaded group into the next generation.
    const joinNew = loaded.join(joinRequest({ clientId: 'new' }));
    const [a, b, c] = await Promise.all([
      loaded.join(joinRequest({ memberId: ids[0], groupInstanceId: 'static-1' })),
      loaded.join(joinRequest({ memberId: ids[1], clientId: 'dyn' })),
      joinNew,
    ]);
    expect([a, b, c].map((r) => r.generationId)).toEqual([
      generation + 1,
      generation + 1,
      generation + 1,
    ]);
    expect(a.leader).toBe(leader);
  });

  test('members loaded from a record expire if they never heartbeat to the new coordinator', async () => {
    const { group, ids } = await stableGroup([
      { sessionTimeoutMs: 150 },
      { sessionTimeoutMs: 150 },
    ]);
    const record = group.toRecord();
    group.kill();
    const persisted: GroupRecord[] = [];
    const loaded = ConsumerGroup.fromRecord(record, {
      initialRebalanceDelayMs: 0,
      onStable: (g) => persisted.push(g.toRecord()),
    });
    groups.push(loaded);
    await sleep(500);
    expect(loaded.hasMember(ids[0])).toBe(false);
    expect(loaded.hasMember(ids[1])).toBe(false);
    expect(loaded.state).toBe('Empty');
    expect(persisted.at(-1)!.members).toEqual([]);
  });

  test('an empty group round-trips as Empty', () => {
    const { group } = newGroup();
    const loaded = ConsumerGroup.fromRecord(group.toRecord(), {
      initialRebalanceDelayMs: 0,
      onStable: () => undefined,
    });
    groups.push(loaded);
    expect(loaded.state).toBe('Empty');
    expect(loaded.size).toBe(0);
    expect(loaded.protocolType).toBeNull();
  });
});
