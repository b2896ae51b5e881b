// `kafscale snapshot`: logical snapshots of a cluster's metadata (every key under
// /kafscale/{cluster}/, read at one revision) as JSON documents in object storage, each with a
// `.sha256` beside it in sha256sum format; restore into a fresh metadata store; list.

import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { loadConfig, type BrokerConfig } from '../config.js';
import type { ClusterMetadata } from '../metadata/cluster-metadata.js';
import type { Op } from '../metadata/metadata-store.js';
import { ObjectNotFoundError, type ObjectStore } from '../storage/object-store.js';
import { UsageError, type CliCommand, type CliContext } from './command.js';
import { withClusterMetadata } from './metadata-access.js';
import { withBucket } from './object-access.js';
import { printJson, table } from './table.js';

const USAGE = `Usage:
  kafscale snapshot create [--bucket B] [--prefix P] [--retention N]
  kafscale snapshot restore --key K [--bucket B] [--force]
  kafscale snapshot list [--bucket B] [--prefix P] [--json]

create reads every metadata key of the cluster (KAFSCALE_CLUSTER_NAME) at one revision and
uploads it as P/{cluster}/snapshot-{UTC timestamp}.json with a .sha256 object beside it, then
records the snapshot under the cluster's snapshots/last key. --retention N keeps the newest N
snapshots of the cluster and deletes older ones with their .sha256.

restore downloads snapshot K, refuses it unless it matches K.sha256, and writes its keys into the
metadata store in batched transactions. It refuses a store that already holds keys of the
cluster unless --force (which first deletes them: stop every broker before). Keys that were
attached to a lease (live brokers, partition leaders, group coordinators) are not restored.

The bucket defaults to KAFSCALE_S3_BUCKET and the prefix to "etcd-snapshots"; S3 is reached with
the broker's KAFSCALE_S3_* settings.`;

export const SNAPSHOT_FORMAT = 'kafscale-metadata-snapshot';
export const SNAPSHOT_VERSION = 1;
const DEFAULT_PREFIX = 'etcd-snapshots';
/** Keys restored per transaction, and their bytes at most (etcd: 128 ops, 1.5 MiB by default). */
const BATCH_OPS = 100;
const BATCH_BYTES = 1024 * 1024;
const SNAPSHOT_NAME = /(?:^|\/)snapshot-(\d{8}T\d{9}Z)\.json(\.sha256)?$/;

/** One key of a snapshot, relative to the cluster prefix. */
export interface SnapshotEntry {
  key: string;
  value: string;
  /** The key was attached to a lease (liveness state): restore skips it. */
  lease?: true;
}

export interface SnapshotDocument {
  format: typeof SNAPSHOT_FORMAT;
  version: number;
  cluster: string;
  prefix: string;
  /** Highest modRevision among the keys: the snapshot is the cluster as of this revision. */
  revision: number;
  createdAt: string;
  keyCount: number;
  keys: SnapshotEntry[];
}

function fail(what: string, err: unknown): Error {
  return new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}

function bucketOf(config: BrokerConfig, bucket: string | undefined): string {
  const b = bucket ?? config.s3.bucket;
  if (!b) throw new UsageError('--bucket is required (KAFSCALE_S3_BUCKET is not set)');
  return b;
}

function prefixOf(prefix: string | undefined): string {
  const p = (prefix ?? DEFAULT_PREFIX).replace(/^\/+|\/+$/g, '');
  if (/(^|\/)\.\.?(\/|$)|\/\//.test(p)) throw new UsageError(`invalid --prefix "${prefix}"`);
  return p;
}

/** The folder of a cluster's snapshots: {prefix}/{cluster}. */
function folder(prefix: string, cluster: string): string {
  return prefix === '' ? cluster : `${prefix}/${cluster}`;
}

/** 2024-05-01T12:00:00.123Z -> 20240501T120000123Z: sorts by time as a string. */
function stamp(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, '');
}

function sha256(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

/** Header fields on their own lines and one key a line: readable and diffable, still JSON. */
function encodeDocument(doc: SnapshotDocument): Buffer {
  const { keys, ...header } = doc;
  const lines = ['{'];
  for (const [name, value] of Object.entries(header)) {
    lines.push(`  ${JSON.stringify(name)}: ${JSON.stringify(value)},`);
  }
  lines.push('  "keys": [');
  keys.forEach((entry, i) => {
    lines.push(`    ${JSON.stringify(entry)}${i < keys.length - 1 ? ',' : ''}`);
  });
  lines.push('  ]', '}', '');
  return Buffer.from(lines.join('\n'));
}

function decodeDocument(body: Buffer, key: string): SnapshotDocument {
  let doc: Partial<SnapshotDocument>;
  try {
    doc = JSON.parse(body.toString('utf8')) as Partial<SnapshotDocument>;
  } catch (err) {
    throw fail(`${key} is not a JSON document`, err);
  }
  if (doc.format !== SNAPSHOT_FORMAT) throw new Error(`${key} is not a KafScale metadata snapshot`);
  if (doc.version !== SNAPSHOT_VERSION) {
    throw new Error(`${key} has snapshot format version ${doc.version}; this CLI reads version 1`);
  }
  if (
    !Array.isArray(doc.keys) ||
    !doc.keys.every((e) => typeof e?.key === 'string' && typeof e.value === 'string') ||
    doc.keys.length !== doc.keyCount
  ) {
    throw new Error(`${key} has a malformed key list`);
  }
  return doc as SnapshotDocument;
}

/** Parses a sha256sum line: "{64 hex}  {name}" (or " *{name}", binary mode). */
export function parseChecksum(text: string): { digest: string; name: string } | undefined {
  const m = /^([0-9a-fA-F]{64}) [ *](.+?)\r?$/m.exec(text);
  return m ? { digest: m[1].toLowerCase(), name: m[2] } : undefined;
}

// -- create -----------------------------------------------------------------------------------

async function create(args: string[], cli: CliContext): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      bucket: { type: 'string' },
      prefix: { type: 'string' },
      retention: { type: 'string' },
    },
  });
  const config = loadConfig(cli.env);
  const bucket = bucketOf(config, values.bucket);
  const prefix = prefixOf(values.prefix);
  let retention: number | undefined;
  if (values.retention !== undefined) {
    retention = Number(values.retention);
    if (!/^\d+$/.test(values.retention) || retention < 1) {
      throw new UsageError(`--retention must be a positive integer, got "${values.retention}"`);
    }
  }
  // The brokers' orphan sweeper deletes every unreferenced object under the namespace.
  if (bucket === config.s3.bucket && `${prefix}/`.startsWith(`${config.namespace}/`)) {
    throw new UsageError(
      `--prefix "${prefix}" is inside the brokers' namespace "${config.namespace}" of the same ` +
        `bucket, where unreferenced objects are deleted as garbage; choose another prefix`,
    );
  }
  const dir = folder(prefix, config.clusterName);

  return withClusterMetadata(cli.env, async (metadata) => {
    const kvs = await metadata.readAll().catch((err: unknown) => {
      throw fail('cannot read the metadata store', err);
    });
    const createdAt = new Date();
    const keys: SnapshotEntry[] = kvs.map((kv) => ({
      key: kv.key.slice(metadata.prefix.length),
      value: kv.value,
      ...(kv.lease ? { lease: true as const } : {}),
    }));
    const doc: SnapshotDocument = {
      format: SNAPSHOT_FORMAT,
      version: SNAPSHOT_VERSION,
      cluster: config.clusterName,
      prefix: metadata.prefix,
      revision: kvs.reduce((max, kv) => Math.max(max, kv.modRevision), 0),
      createdAt: createdAt.toISOString(),
      keyCount: keys.length,
      keys,
    };
    const body = encodeDocument(doc);
    const digest = sha256(body);
    const name = `snapshot-${stamp(createdAt)}.json`;
    const key = `${dir}/${name}`;
    const url = `s3://${bucket}/${key}`;

    return withBucket(config, bucket, async (objects) => {
      // The document first: a .sha256 always has its snapshot beside it.
      await objects.put(key, body).catch((err: unknown) => {
        throw fail(`cannot upload the snapshot to ${url}`, err);
      });
      await objects.put(`${key}.sha256`, Buffer.from(`${digest}  ${name}\n`)).catch((err) => {
        throw fail(`cannot upload ${url}.sha256`, err);
      });
      await metadata
        .recordSnapshot({
          bucket,
          key,
          sha256: digest,
          completedAt: Date.now(),
          revision: doc.revision,
          keys: keys.length,
        })
        .catch((err: unknown) => {
          throw fail(`uploaded ${url} but cannot record it in the metadata store`, err);
        });
      cli.out(
        `snapshot ${url}: ${keys.length} keys at revision ${doc.revision}, ` +
          `${body.length} bytes, sha256 ${digest}`,
      );
      if (retention !== undefined) {
        const deleted = await applyRetention(objects, dir, retention).catch((err: unknown) => {
          throw fail(`snapshot ${url} is complete, but retention failed`, err);
        });
        for (const d of deleted) cli.out(`deleted s3://${bucket}/${d}`);
      }
      return 0;
    });
  });
}

/**
 * Keeps the newest `keep` snapshots of the folder; deletes older snapshot documents and their
 * .sha256 objects (also a .sha256 whose document is already gone). Resolves with deleted keys.
 */
async function applyRetention(objects: ObjectStore, dir: string, keep: number): Promise<string[]> {
  const listed = await objects.list(`${dir}/snapshot-`);
  const matched = listed
    .map((o) => ({ key: o.key, match: SNAPSHOT_NAME.exec(o.key.slice(dir.length)) }))
    .filter((o) => o.match && o.key.lastIndexOf('/') === dir.length);
  const stamps = [...new Set(matched.filter((o) => !o.match![2]).map((o) => o.match![1]))]
    .sort()
    .reverse();
  if (stamps.length <= keep) return [];
  const oldestKept = stamps[keep - 1];
  const doomed = matched.filter((o) => o.match![1] < oldestKept).map((o) => o.key);
  if (doomed.length > 0) await objects.delete(doomed);
  return doomed;
}

// -- restore ----------------------------------------------------------------------------------

async function fetchVerified(
  objects: ObjectStore,
  bucket: string,
  key: string,
): Promise<{ body: Buffer; digest: string }> {
  const url = `s3://${bucket}/${key}`;
  const get = (k: string) =>
    objects.get(k).catch((err: unknown) => {
      if (err instanceof ObjectNotFoundError) throw new Error(`no object ${`s3://${bucket}/${k}`}`);
      throw fail(`cannot download s3://${bucket}/${k}`, err);
    });
  const body = await get(key);
  let checksum: Buffer;
  try {
    checksum = await get(`${key}.sha256`);
  } catch (err) {
    throw fail(`refusing to restore ${url} without its checksum`, err);
  }
  const expected = parseChecksum(checksum.toString('utf8'));
  if (!expected) throw new Error(`${url}.sha256 is not in sha256sum format; refusing to restore`);
  const digest = sha256(body);
  if (digest !== expected.digest) {
    throw new Error(
      `checksum mismatch for ${url}: its sha256 is ${digest}, ${key}.sha256 says ` +
        `${expected.digest}; the snapshot is corrupt or incomplete, refusing to restore`,
    );
  }
  return { body, digest };
}

async function restore(args: string[], cli: CliContext): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      bucket: { type: 'string' },
      key: { type: 'string' },
      force: { type: 'boolean' },
    },
  });
  const config = loadConfig(cli.env);
  const bucket = bucketOf(config, values.bucket);
  if (!values.key) throw new UsageError('--key is required (see "kafscale snapshot list")');
  const key = values.key.replace(/^\/+/, '');
  const { body, digest } = await withBucket(config, bucket, (objects) =>
    fetchVerified(objects, bucket, key),
  );
  const doc = decodeDocument(body, `s3://${bucket}/${key}`);

  return withClusterMetadata(cli.env, async (metadata) => {
    const existing = await metadata.readAll();
    if (existing.length > 0 && !values.force) {
      cli.err(
        `kafscale snapshot restore: the metadata store already holds ${existing.length} keys ` +
          `under ${metadata.prefix}; restore into a fresh store, or pass --force to replace ` +
          `them (with every broker of the cluster stopped)`,
      );
      return 1;
    }
    const skipped = doc.keys.filter((e) => !restorable(e));
    const entries = doc.keys.filter(restorable);
    if (existing.length > 0) {
      await metadata.store.txn([], [{ type: 'deletePrefix', prefix: metadata.prefix }]);
      cli.out(`deleted ${existing.length} keys under ${metadata.prefix}`);
    }
    let written = 0;
    for (const batch of batches(entries, metadata)) {
      await metadata.store.txn([], batch).catch((err: unknown) => {
        throw fail(
          `restore stopped after ${written} of ${entries.length} keys ` +
            `(run it again with --force)`,
          err,
        );
      });
      written += batch.length;
    }
    const renamed =
      doc.prefix === metadata.prefix ? '' : ` (snapshot of ${doc.prefix}, cluster ${doc.cluster})`;
    cli.out(
      `restored ${written} keys into ${metadata.prefix}${renamed} from s3://${bucket}/${key} ` +
        `(revision ${doc.revision}, taken ${doc.createdAt}, sha256 ${digest}); ` +
        `skipped ${skipped.length} lease-bound or status keys`,
    );
    return 0;
  });
}

/**
 * Lease-bound keys describe live processes of the old cluster (registrations, leadership): without
 * their lease they would never expire and would block the partitions and groups they name. The
 * snapshot status describes the backups of the old store.
 */
function restorable(entry: SnapshotEntry): boolean {
  return !entry.lease && entry.key !== 'snapshots/last';
}

function* batches(entries: SnapshotEntry[], metadata: ClusterMetadata): Generator<Op[]> {
  let batch: Op[] = [];
  let bytes = 0;
  for (const entry of entries) {
    const key = `${metadata.prefix}${entry.key}`;
    const size = Buffer.byteLength(key) + Buffer.byteLength(entry.value);
    if (batch.length > 0 && (batch.length >= BATCH_OPS || bytes + size > BATCH_BYTES)) {
      yield batch;
      batch = [];
      bytes = 0;
    }
    batch.push({ type: 'put', key, value: entry.value });
    bytes += size;
  }
  if (batch.length > 0) yield batch;
}

// -- list -------------------------------------------------------------------------------------

async function list(args: string[], cli: CliContext): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      bucket: { type: 'string' },
      prefix: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const config = loadConfig(cli.env);
  const bucket = bucketOf(config, values.bucket);
  const dir = folder(prefixOf(values.prefix), config.clusterName);
  const listed = await withBucket(config, bucket, (objects) =>
    objects.list(`${dir}/snapshot-`).catch((err: unknown) => {
      throw fail(`cannot list s3://${bucket}/${dir}/`, err);
    }),
  );
  const checksums = new Set(listed.filter((o) => o.key.endsWith('.sha256')).map((o) => o.key));
  const snapshots = listed
    .filter((o) => SNAPSHOT_NAME.test(o.key) && o.key.endsWith('.json'))
    .sort((a, b) => (a.key < b.key ? 1 : -1))
    .map((o) => ({
      key: o.key,
      size: o.size,
      lastModified: o.lastModified.toISOString(),
      checksum: checksums.has(`${o.key}.sha256`),
    }));
  if (values.json) {
    printJson(cli.out, { bucket, snapshots });
    return 0;
  }
  for (const line of table(
    ['KEY', 'SIZE', 'CREATED', 'SHA256'],
    snapshots.map((s) => [s.key, s.size, s.lastModified, s.checksum ? 'yes' : 'missing']),
  )) {
    cli.out(line);
  }
  return 0;
}

export const snapshotCommand: CliCommand = {
  name: 'snapshot',
  summary: 'create, restore and list snapshots of the cluster metadata in object storage',
  usage: USAGE,
  async run(args, cli) {
    const [sub, ...rest] = args;
    if (sub === 'create') return create(rest, cli);
    if (sub === 'restore') return restore(rest, cli);
    if (sub === 'list') return list(rest, cli);
    throw new UsageError(
      sub ? `unknown snapshot subcommand "${sub}"` : 'missing snapshot subcommand',
    );
  },
};
