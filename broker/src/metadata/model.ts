// The records the broker keeps in the metadata store, as JSON values. cluster-metadata.ts owns
// which key each one lives under.

export interface TopicRecord {
  name: string;
  /** Topic ID (UUID), new for every incarnation of a name. */
  id: string;
  partitions: number;
  /** Topic-level config overrides (retention.ms, max.message.bytes, ...). */
  configs: Record<string, string>;
  createdAt: number;
}

/** One committed segment object of a partition: the manifest entry. */
export interface SegmentRecord {
  /** Object key of the .kfs segment. */
  key: string;
  /** Object key of its sparse .index. */
  indexKey: string;
  baseOffset: number;
  lastOffset: number;
  /** Byte range [dataStart, dataEnd) of the record batches inside the object. */
  dataStart: number;
  dataEnd: number;
  /**
   * Set only when `key` is a packed object holding several partitions' segments: the byte range
   * [segmentStart, segmentEnd) of this partition's whole `.kfs` segment inside it (index positions
   * are relative to segmentStart). Absent: the segment is the whole object.
   */
  segmentStart?: number;
  segmentEnd?: number;
  /** Byte range of the `.index` inside `indexKey` when packed; absent: the whole object. */
  indexStart?: number;
  indexEnd?: number;
  /** Largest batch max timestamp in the segment (for time-based lookups and retention). */
  maxTimestamp: number;
  createdAt: number;
}

/** The last batches of one producer on one partition, to reject duplicates (idempotence). */
export interface ProducerRecord {
  producerId: number;
  epoch: number;
  /** Up to the last five batches, oldest first. */
  batches: { firstSeq: number; lastSeq: number; firstOffset: number; lastOffset: number }[];
  lastTimestamp: number;
}

export interface PartitionStateRecord {
  logStartOffset: number;
  /** Next offset to be committed: everything below is durable. */
  highWatermark: number;
  leaderEpoch: number;
  /** Start offset of every leader epoch, oldest first (for OffsetForLeaderEpoch). */
  epochs: { epoch: number; startOffset: number }[];
  /** Unique id of the last commit, to settle commits whose outcome was unknown. */
  commitId: string;
  producers: ProducerRecord[];
}

export interface BrokerRecord {
  nodeId: number;
  host: string;
  port: number;
  rack: string | null;
}

/** A committed consumer offset (the value under offsets/{group}/{topic}/{partition}). */
export interface OffsetRecord {
  offset: number;
  leaderEpoch: number;
  metadata: string | null;
  commitTimestamp: number;
}

/** A consumer group's membership as of its last completed rebalance. */
export interface GroupRecord {
  groupId: string;
  protocolType: string | null;
  protocolName: string | null;
  generationId: number;
  leaderId: string | null;
  members: {
    memberId: string;
    groupInstanceId: string | null;
    clientId: string;
    clientHost: string;
    sessionTimeoutMs: number;
    rebalanceTimeoutMs: number;
    /** Subscription metadata of the selected protocol, base64. */
    metadata: string;
    /** Assignment, base64. */
    assignment: string;
  }[];
}

/**
 * A salted SCRAM credential (RFC 5802): enough to verify a password and to prove the server's
 * identity, never the password itself. Byte fields are base64.
 */
export interface ScramCredentialRecord {
  salt: string;
  iterations: number;
  storedKey: string;
  serverKey: string;
}

/** A SASL user (the value under users/{name}): one credential per SCRAM mechanism. */
export interface UserRecord {
  name: string;
  credentials: Partial<Record<'SCRAM-SHA-256' | 'SCRAM-SHA-512', ScramCredentialRecord>>;
  updatedAt: number;
}
