import { randomUUID } from 'node:crypto';
import type { GroupRecord } from '../metadata/model.js';
import { ErrorCode } from '../protocol/error-codes.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export interface JoinResult {
  errorCode: number;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leader: string;
  memberId: string;
  members: { memberId: string; groupInstanceId: string | null; metadata: Buffer }[];
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export interface JoinRequest {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocolType: string;
  protocols: { name: string; metadata: Buffer }[];
  /** JoinGroup v4+: a new member must first get its id with MEMBER_ID_REQUIRED. */
  requireKnownMemberId: boolean;
}

interface Member {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  sessionTimeoutMs: number;
  rebalanceTimeoutMs: number;
  protocols: { name: string; metadata: Buffer }[];
  assignment: Buffer;
  joinWaiter?: (result: JoinResult) => void;
  syncWaiter?: (result: SyncResult) => void;
  sessionTimer?: NodeJS.Timeout;
}

export interface GroupOptions {
  /** group.initial.rebalance.delay.ms: how long the first rebalance of an empty group waits. */
  initialRebalanceDelayMs: number;
  /** Called after a rebalance completes or the group empties, to persist membership. */
  onStable: (group: ConsumerGroup) => void;
  now?: () => number;
}

const EMPTY = Buffer.alloc(0);

/**
 * One classic consumer group and Kafka's group state machine (GroupCoordinator/GroupMetadata):
 * Empty -> PreparingRebalance -> CompletingRebalance -> Stable, with session and rebalance
 * timeouts, generations, static members and the error codes clients expect. All transitions
 * are synchronous; responses are delivered through the waiters of JoinGroup and SyncGroup.
 */
export class ConsumerGroup {
  state: GroupState = 'Empty';
  generationId = 0;
  protocolType: string | null = null;
  protocolName: string | null = null;
  leaderId: string | null = null;
  private readonly members = new Map<string, Member>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, not yet joined. */
  private readonly pendingMembers = new Set<string>();
  private readonly staticMembers = new Map<string, string>();
  private rebalanceTimer?: NodeJS.Timeout;
  private initialDelayTimer?: NodeJS.Timeout;

  constructor(
    readonly groupId: string,
    private readonly options: GroupOptions,
  ) {}

  // -- persistence ----------------------------------------------------------------------------

  static fromRecord(record: GroupRecord, options: GroupOptions): ConsumerGroup {
    const group = new ConsumerGroup(record.groupId, options);
    group.generationId = record.generationId;
    group.protocolType = record.protocolType;
    group.protocolName = record.protocolName;
    group.leaderId = record.leaderId;
    for (const m of record.members) {
      const member: Member = {
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        sessionTimeoutMs: m.sessionTimeoutMs,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        protocols: [
          { name: record.protocolName ?? '', metadata: Buffer.from(m.metadata, 'base64') },
        ],
        assignment: Buffer.from(m.assignment, 'base64'),
      };
      group.members.set(m.memberId, member);
      if (m.groupInstanceId) group.staticMembers.set(m.groupInstanceId, m.memberId);
      // Loaded members must heartbeat to this coordinator within their session timeout.
      group.scheduleSessionExpiry(member);
    }
    group.state = group.members.size > 0 ? 'Stable' : 'Empty';
    return group;
  }

  toRecord(): GroupRecord {
    return {
      groupId: this.groupId,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      generationId: this.generationId,
      leaderId: this.leaderId,
      members: [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        sessionTimeoutMs: m.sessionTimeoutMs,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        metadata: this.metadataOf(m).toString('base64'),
        assignment: m.assignment.toString('base64'),
      })),
    };
  }

  // -- queries --------------------------------------------------------------------------------

  get size(): number {
    return this.members.size;
  }

  hasMember(memberId: string): boolean {
    return this.members.has(memberId);
  }

  describeMembers() {
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      memberMetadata: this.metadataOf(m),
      memberAssignment: m.assignment,
    }));
  }

  private metadataOf(m: Member): Buffer {
    return (
      m.protocols.find((p) => p.name === this.protocolName)?.metadata ??
      m.protocols[0]?.metadata ??
      EMPTY
    );
  }

  /**
   * The checks shared by Heartbeat, SyncGroup and OffsetCommit: the member must be known (and,
   * for static members, be the current holder of its instance id) and in this generation.
   */
  validateMember(memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (this.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (groupInstanceId) {
      const current = this.staticMembers.get(groupInstanceId);
      if (current !== undefined && current !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
    }
    if (!this.members.has(memberId)) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (generationId !== this.generationId) return ErrorCode.ILLEGAL_GENERATION;
    return ErrorCode.NONE;
  }

  // -- JoinGroup ------------------------------------------------------------------------------

  join(req: JoinRequest): Promise<JoinResult> {
    const fail = (errorCode: number, memberId = req.memberId): Promise<JoinResult> =>
      Promise.resolve(this.errorJoin(errorCode, memberId));
    if (this.state === 'Dead') return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (!this.supportsProtocols(req.protocolType, req.protocols))
      return fail(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);

    if (req.groupInstanceId) return this.joinStatic(req, fail);

    if (req.memberId === '') {
      const memberId = `${req.clientId}-${randomUUID()}`;
      if (req.requireKnownMemberId) {
        this.pendingMembers.add(memberId);
        // A pending member that never comes back must not hold up rebalances forever.
        setTimeout(() => {
          if (this.pendingMembers.delete(memberId)) this.maybeCompleteJoin();
        }, req.sessionTimeoutMs).unref?.();
        return fail(ErrorCode.MEMBER_ID_REQUIRED, memberId);
      }
      return this.addMemberAndRebalance(memberId, req);
    }
    if (this.pendingMembers.has(req.memberId)) {
      this.pendingMembers.delete(req.memberId);
      return this.addMemberAndRebalance(req.memberId, req);
    }
    const member = this.members.get(req.memberId);
    if (!member) return fail(ErrorCode.UNKNOWN_MEMBER_ID);
    return this.updateMemberAndRebalance(member, req);
  }

  private joinStatic(
    req: JoinRequest,
    fail: (code: number, memberId?: string) => Promise<JoinResult>,
  ): Promise<JoinResult> {
    const instanceId = req.groupInstanceId!;
    const known = this.staticMembers.get(instanceId);
    if (known === undefined) {
      if (req.memberId !== '') return fail(ErrorCode.UNKNOWN_MEMBER_ID);
      return this.addMemberAndRebalance(`${instanceId}-${randomUUID()}`, req);
    }
    if (req.memberId !== '' && req.memberId !== known) return fail(ErrorCode.FENCED_INSTANCE_ID);
    const member = this.members.get(known)!;
    if (req.memberId === '') {
      // A restarted static member takes over its old identity under a new member id; the
      // old id is fenced. In a stable group with unchanged subscriptions no rebalance is needed.
      const previousLeader = this.leaderId ?? '';
      const newId = `${instanceId}-${randomUUID()}`;
      this.replaceMemberId(member, newId);
      if (this.state === 'Stable' && this.sameProtocols(member, req.protocols)) {
        this.refreshMember(member, req);
        this.scheduleSessionExpiry(member);
        this.options.onStable(this);
        // As Kafka does, name the previous leader id and no members: a restarted leader (whose
        // id changed) must not compute an assignment that a stable group would not distribute.
        return Promise.resolve({ ...this.joinResultFor(member, false), leader: previousLeader });
      }
    }
    return this.updateMemberAndRebalance(member, req);
  }

  private replaceMemberId(member: Member, newId: string): void {
    const oldId = member.memberId;
    this.members.delete(oldId);
    member.memberId = newId;
    this.members.set(newId, member);
    if (member.groupInstanceId) this.staticMembers.set(member.groupInstanceId, newId);
    if (this.leaderId === oldId) this.leaderId = newId;
    // A fenced old incarnation waiting on join or sync is told so.
    member.joinWaiter?.(this.errorJoin(ErrorCode.FENCED_INSTANCE_ID, oldId));
    member.joinWaiter = undefined;
    member.syncWaiter?.(this.errorSync(ErrorCode.FENCED_INSTANCE_ID));
    member.syncWaiter = undefined;
  }

  private addMemberAndRebalance(memberId: string, req: JoinRequest): Promise<JoinResult> {
    const member: Member = {
      memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      protocols: req.protocols,
      assignment: EMPTY,
    };
    // The first member of an empty group sets its protocol type (an empty group keeps the type
    // of its last members only for describing it; Kafka's GroupMetadata.add does the same).
    if (this.members.size === 0) this.protocolType = req.protocolType;
    this.members.set(memberId, member);
    if (req.groupInstanceId) this.staticMembers.set(req.groupInstanceId, memberId);
    return this.awaitJoin(member);
  }

  private updateMemberAndRebalance(member: Member, req: JoinRequest): Promise<JoinResult> {
    const isLeader = member.memberId === this.leaderId;
    // A follower rejoining a stable group with the same subscription gets the current state.
    if (this.state === 'Stable' && !isLeader && this.sameProtocols(member, req.protocols)) {
      this.refreshMember(member, req);
      this.scheduleSessionExpiry(member);
      return Promise.resolve(this.joinResultFor(member, false));
    }
    this.refreshMember(member, req);
    return this.awaitJoin(member);
  }

  private refreshMember(member: Member, req: JoinRequest): void {
    member.clientId = req.clientId;
    member.clientHost = req.clientHost;
    member.sessionTimeoutMs = req.sessionTimeoutMs;
    member.rebalanceTimeoutMs = req.rebalanceTimeoutMs;
    member.protocols = req.protocols;
  }

  private awaitJoin(member: Member): Promise<JoinResult> {
    const previous = member.joinWaiter;
    const promise = new Promise<JoinResult>((resolve) => {
      member.joinWaiter = resolve;
    });
    // A member that re-sent JoinGroup while waiting: the earlier request is superseded.
    previous?.(this.errorJoin(ErrorCode.REBALANCE_IN_PROGRESS, member.memberId));
    this.scheduleSessionExpiry(member);
    if (this.state !== 'PreparingRebalance') this.prepareRebalance();
    else this.maybeCompleteJoin();
    return promise;
  }

  private supportsProtocols(protocolType: string, protocols: { name: string }[]): boolean {
    if (protocols.length === 0 || protocolType === '') return false;
    if (this.members.size === 0) return true;
    if (this.protocolType !== null && protocolType !== this.protocolType) return false;
    const names = new Set(protocols.map((p) => p.name));
    return this.candidateProtocols().some((c) => names.has(c));
  }

  private sameProtocols(member: Member, protocols: { name: string; metadata: Buffer }[]): boolean {
    return (
      member.protocols.length === protocols.length &&
      member.protocols.every(
        (p, i) => p.name === protocols[i].name && p.metadata.equals(protocols[i].metadata),
      )
    );
  }

  /** Protocols every member supports. */
  private candidateProtocols(): string[] {
    const all = [...this.members.values()];
    if (all.length === 0) return [];
    return all[0].protocols
      .map((p) => p.name)
      .filter((name) => all.every((m) => m.protocols.some((p) => p.name === name)));
  }

  /** Each member votes for its most preferred candidate; the most votes wins (Kafka's rule). */
  private selectProtocol(): string | null {
    const candidates = new Set(this.candidateProtocols());
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const choice = m.protocols.find((p) => candidates.has(p.name))?.name;
      if (choice) votes.set(choice, (votes.get(choice) ?? 0) + 1);
    }
    let best: string | null = null;
    for (const [name, count] of votes) if (best === null || count > votes.get(best)!) best = name;
    return best;
  }

  // -- rebalance ------------------------------------------------------------------------------

  private prepareRebalance(): void {
    const wasEmpty = this.state === 'Empty';
    if (this.state === 'CompletingRebalance') {
      // Members waiting for their assignment must rejoin.
      for (const m of this.members.values()) {
        m.syncWaiter?.(this.errorSync(ErrorCode.REBALANCE_IN_PROGRESS));
        m.syncWaiter = undefined;
      }
    }
    this.state = 'PreparingRebalance';
    const timeout = Math.max(0, ...[...this.members.values()].map((m) => m.rebalanceTimeoutMs));
    clearTimeout(this.rebalanceTimer);
    this.rebalanceTimer = setTimeout(() => this.completeJoin(), timeout);
    this.rebalanceTimer.unref?.();
    if (wasEmpty && this.options.initialRebalanceDelayMs > 0) {
      // Give the other members of a starting group time to join one rebalance.
      this.initialDelayTimer = setTimeout(
        () => {
          this.initialDelayTimer = undefined;
          this.maybeCompleteJoin();
        },
        Math.min(this.options.initialRebalanceDelayMs, timeout),
      );
      this.initialDelayTimer.unref?.();
      return;
    }
    this.maybeCompleteJoin();
  }

  private maybeCompleteJoin(): void {
    if (this.state !== 'PreparingRebalance' || this.initialDelayTimer) return;
    const allJoined = [...this.members.values()].every((m) => m.joinWaiter !== undefined);
    if (allJoined && this.pendingMembers.size === 0) this.completeJoin();
  }

  /** Ends the join phase: drops members that did not rejoin and answers the others. */
  private completeJoin(): void {
    if (this.state !== 'PreparingRebalance') return;
    clearTimeout(this.rebalanceTimer);
    clearTimeout(this.initialDelayTimer);
    this.initialDelayTimer = undefined;
    this.pendingMembers.clear();
    for (const m of [...this.members.values()]) {
      if (!m.joinWaiter) this.removeMember(m);
    }
    this.generationId++;
    if (this.members.size === 0) {
      this.state = 'Empty';
      this.protocolName = null;
      this.leaderId = null;
      this.options.onStable(this);
      return;
    }
    this.protocolName = this.selectProtocol();
    if (!this.leaderId || !this.members.has(this.leaderId))
      this.leaderId = this.members.keys().next().value!;
    this.state = 'CompletingRebalance';
    for (const m of this.members.values()) {
      const waiter = m.joinWaiter!;
      m.joinWaiter = undefined;
      waiter(this.joinResultFor(m, m.memberId === this.leaderId));
      this.scheduleSessionExpiry(m);
    }
  }

  private joinResultFor(member: Member, isLeader: boolean): JoinResult {
    return {
      errorCode: ErrorCode.NONE,
      generationId: this.generationId,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      leader: this.leaderId ?? '',
      memberId: member.memberId,
      members: isLeader
        ? [...this.members.values()].map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            metadata: this.metadataOf(m),
          }))
        : [],
    };
  }

  private errorJoin(errorCode: number, memberId: string): JoinResult {
    return {
      errorCode,
      generationId: -1,
      protocolType: null,
      protocolName: null,
      leader: '',
      memberId,
      members: [],
    };
  }

  private errorSync(errorCode: number): SyncResult {
    return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
  }

  // -- SyncGroup ------------------------------------------------------------------------------

  sync(
    memberId: string,
    groupInstanceId: string | null,
    generationId: number,
    protocolType: string | null,
    protocolName: string | null,
    assignments: { memberId: string; assignment: Buffer }[],
  ): Promise<SyncResult> {
    const error = this.validateMember(memberId, groupInstanceId, generationId);
    if (error !== ErrorCode.NONE) return Promise.resolve(this.errorSync(error));
    if (
      (protocolType !== null && protocolType !== this.protocolType) ||
      (protocolName !== null && protocolName !== this.protocolName)
    ) {
      return Promise.resolve(this.errorSync(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }
    const member = this.members.get(memberId)!;
    this.scheduleSessionExpiry(member);
    if (this.state === 'PreparingRebalance')
      return Promise.resolve(this.errorSync(ErrorCode.REBALANCE_IN_PROGRESS));
    if (this.state === 'Stable') return Promise.resolve(this.syncResult(member));

    const promise = new Promise<SyncResult>((resolve) => {
      member.syncWaiter = resolve;
    });
    if (memberId === this.leaderId) {
      for (const m of this.members.values()) {
        m.assignment = assignments.find((a) => a.memberId === m.memberId)?.assignment ?? EMPTY;
      }
      this.state = 'Stable';
      for (const m of this.members.values()) {
        const waiter = m.syncWaiter;
        m.syncWaiter = undefined;
        waiter?.(this.syncResult(m));
      }
      this.options.onStable(this);
    }
    return promise;
  }

  private syncResult(member: Member): SyncResult {
    return {
      errorCode: ErrorCode.NONE,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      assignment: member.assignment,
    };
  }

  // -- Heartbeat and LeaveGroup ---------------------------------------------------------------

  heartbeat(memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (this.state === 'Empty') return ErrorCode.UNKNOWN_MEMBER_ID;
    const error = this.validateMember(memberId, groupInstanceId, generationId);
    if (error !== ErrorCode.NONE) return error;
    this.scheduleSessionExpiry(this.members.get(memberId)!);
    return this.state === 'PreparingRebalance' ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.NONE;
  }

  /** Removes a member that leaves; returns its error code. */
  leave(memberId: string, groupInstanceId: string | null): number {
    if (this.state === 'Dead') return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    let id = memberId;
    if (groupInstanceId) {
      const known = this.staticMembers.get(groupInstanceId);
      if (known === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (memberId !== '' && memberId !== known) return ErrorCode.FENCED_INSTANCE_ID;
      id = known;
    }
    if (this.pendingMembers.delete(id)) {
      this.maybeCompleteJoin();
      return ErrorCode.NONE;
    }
    const member = this.members.get(id);
    if (!member) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.removeMemberAndRebalance(member);
    return ErrorCode.NONE;
  }

  private removeMember(member: Member): void {
    clearTimeout(member.sessionTimer);
    this.members.delete(member.memberId);
    if (
      member.groupInstanceId &&
      this.staticMembers.get(member.groupInstanceId) === member.memberId
    ) {
      this.staticMembers.delete(member.groupInstanceId);
    }
    member.joinWaiter?.(this.errorJoin(ErrorCode.UNKNOWN_MEMBER_ID, member.memberId));
    member.joinWaiter = undefined;
    member.syncWaiter?.(this.errorSync(ErrorCode.UNKNOWN_MEMBER_ID));
    member.syncWaiter = undefined;
  }

  private removeMemberAndRebalance(member: Member): void {
    this.removeMember(member);
    if (this.state === 'Stable' || this.state === 'CompletingRebalance') this.prepareRebalance();
    else if (this.state === 'PreparingRebalance') this.maybeCompleteJoin();
  }

  private scheduleSessionExpiry(member: Member): void {
    clearTimeout(member.sessionTimer);
    member.sessionTimer = setTimeout(() => {
      if (this.members.get(member.memberId) !== member) return;
      // Kafka: members awaiting a JoinGroup or SyncGroup response satisfy their heartbeats (they
      // do not heartbeat while they wait). The rebalance timeout bounds the join phase, and the
      // leader's own session bounds the followers' wait for its SyncGroup.
      if (member.joinWaiter || member.syncWaiter) this.scheduleSessionExpiry(member);
      else this.removeMemberAndRebalance(member);
    }, member.sessionTimeoutMs);
    member.sessionTimer.unref?.();
  }

  /** Marks the group deleted and stops its timers. */
  kill(): void {
    // Members still waiting are told to find the (new) coordinator.
    for (const m of this.members.values()) {
      m.joinWaiter?.(this.errorJoin(ErrorCode.NOT_COORDINATOR, m.memberId));
      m.joinWaiter = undefined;
      m.syncWaiter?.(this.errorSync(ErrorCode.NOT_COORDINATOR));
      m.syncWaiter = undefined;
    }
    for (const m of [...this.members.values()]) this.removeMember(m);
    clearTimeout(this.rebalanceTimer);
    clearTimeout(this.initialDelayTimer);
    this.state = 'Dead';
  }
}
