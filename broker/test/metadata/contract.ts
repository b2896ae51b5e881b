// The behaviour every MetadataStore must have, run against each implementation. Semantics are
// etcd's: where the embedded store and etcd could differ, these tests decide.

import {
  MetadataUnavailableError,
  type Compare,
  type MetadataStore,
  type WatchEvent,
} from '../../src/metadata/metadata-store.js';

export interface ContractTarget {
  /** A store for one test; keys are isolated by the returned namespace prefix. */
  open(): Promise<{ store: MetadataStore; ns: string }>;
  /**
   * The store's owner goes away without revoking its leases (process death); returns a store
   * that sees the world afterwards.
   */
  abandon(store: MetadataStore): Promise<MetadataStore>;
}

export function metadataStoreContract(target: ContractTarget): void {
  let store: MetadataStore;
  let ns: string;
  const open: MetadataStore[] = [];

  beforeEach(async () => {
    ({ store, ns } = await target.open());
    open.push(store);
  });

  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  test('put, get and delete track revisions and versions', async () => {
    const k = `${ns}a`;
    expect(await store.get(k)).toBeUndefined();
    const r1 = await store.put(k, 'one');
    expect(await store.get(k)).toEqual({
      key: k,
      value: 'one',
      modRevision: r1,
      createRevision: r1,
      version: 1,
    });
    const r2 = await store.put(k, 'two');
    expect(r2).toBeGreaterThan(r1);
    expect(await store.get(k)).toMatchObject({
      value: 'two',
      modRevision: r2,
      createRevision: r1,
      version: 2,
    });
    await store.delete(k);
    expect(await store.get(k)).toBeUndefined();
    const r3 = await store.put(k, 'again');
    expect(await store.get(k)).toMatchObject({ createRevision: r3, version: 1 });
  });

  test('getPrefix returns only the prefix, in UTF-8 byte order', async () => {
    const keys = ['p/z', 'p/a', 'p/\u00e9', 'p/\ufffd', 'p/\u{1f600}', 'p/a/b', 'p', 'q/a', 'p0'];
    for (const k of keys) await store.put(`${ns}${k}`, k);
    const found = (await store.getPrefix(`${ns}p/`)).map((kv) => kv.value);
    // Code point order; JavaScript's default sort would put the emoji before U+FFFD.
    expect(found).toEqual(['p/a', 'p/a/b', 'p/z', 'p/\u00e9', 'p/\ufffd', 'p/\u{1f600}']);
    expect(await store.getPrefix(`${ns}none/`)).toEqual([]);
  });

  test('a txn applies all its ops at one revision, or the failure ops', async () => {
    await store.put(`${ns}t/old1`, 'x');
    await store.put(`${ns}t/old2`, 'x');
    await store.put(`${ns}t/single`, 'x');
    const ok = await store.txn(
      [{ key: `${ns}t/single`, target: 'value', op: '=', value: 'x' }],
      [
        { type: 'put', key: `${ns}t/new1`, value: '1' },
        { type: 'put', key: `${ns}t/new2`, value: '2' },
        { type: 'delete', key: `${ns}t/single` },
        { type: 'deletePrefix', prefix: `${ns}t/old` },
      ],
      [{ type: 'put', key: `${ns}t/branch`, value: 'failure' }],
    );
    expect(ok.succeeded).toBe(true);
    const after = await store.getPrefix(`${ns}t/`);
    expect(after.map((kv) => kv.key)).toEqual([`${ns}t/new1`, `${ns}t/new2`]);
    expect(after.every((kv) => kv.modRevision === ok.revision)).toBe(true);

    const failed = await store.txn(
      [{ key: `${ns}t/single`, target: 'value', op: '=', value: 'x' }],
      [{ type: 'put', key: `${ns}t/branch`, value: 'success' }],
      [{ type: 'put', key: `${ns}t/branch`, value: 'failure' }],
    );
    expect(failed.succeeded).toBe(false);
    expect(await store.get(`${ns}t/branch`)).toMatchObject({
      value: 'failure',
      modRevision: failed.revision,
    });
  });

  test('deleteRange deletes exactly the keys from <= k < to, in one operation', async () => {
    const keys = ['r/00', 'r/01', 'r/05', 'r/09', 'r/10', 'r/1', 'r0'].map((k) => `${ns}${k}`);
    for (const k of keys) await store.put(k, 'v');
    // 300 keys in one range: more than etcd's 128 operations per transaction, yet one op.
    for (let i = 0; i < 300; i++) await store.put(`${ns}w/${String(i).padStart(5, '0')}`, 'v');
    const t = await store.txn(
      [],
      [
        { type: 'deleteRange', from: `${ns}r/01`, to: `${ns}r/10` },
        { type: 'deleteRange', from: `${ns}w/00001`, to: `${ns}w/00300` },
        { type: 'put', key: `${ns}w/00000`, value: 'replaced' },
      ],
    );
    expect(t.succeeded).toBe(true);
    // Byte order: r/01 <= r/05, r/09, r/1 < r/10 (deleted); r/00 before, r/10 and r0 at or after.
    expect((await store.getPrefix(`${ns}r`)).map((kv) => kv.key)).toEqual(
      ['r/00', 'r/10', 'r0'].map((k) => `${ns}${k}`),
    );
    expect(await store.getPrefix(`${ns}w/`)).toEqual([
      expect.objectContaining({ key: `${ns}w/00000`, value: 'replaced', modRevision: t.revision }),
    ]);
  });

  test('a txn that changes nothing does not advance the revision', async () => {
    const r = await store.put(`${ns}n`, 'v');
    const noop = await store.txn([{ key: `${ns}n`, target: 'value', op: '=', value: 'other' }], []);
    expect(noop).toEqual({ succeeded: false, revision: r });
  });

  test('every compare target and operator, on present and missing keys', async () => {
    const k = `${ns}c`;
    const created = await store.put(k, 'v1');
    const modified = await store.put(k, 'v2'); // version 2
    const missing = `${ns}c-missing`;
    const cases: [Compare, boolean][] = [
      [{ key: k, target: 'value', op: '=', value: 'v2' }, true],
      [{ key: k, target: 'value', op: '=', value: 'v1' }, false],
      [{ key: k, target: 'value', op: '!=', value: 'v1' }, true],
      [{ key: k, target: 'value', op: '!=', value: 'v2' }, false],
      [{ key: missing, target: 'value', op: '=', value: '' }, false],
      [{ key: missing, target: 'value', op: '!=', value: 'x' }, false],
    ];
    const numeric = { version: 2, createRevision: created, modRevision: modified } as const;
    for (const [target, actual] of Object.entries(numeric)) {
      const t = target as keyof typeof numeric;
      cases.push(
        [{ key: k, target: t, op: '=', value: actual }, true],
        [{ key: k, target: t, op: '=', value: actual + 1 }, false],
        [{ key: k, target: t, op: '!=', value: actual + 1 }, true],
        [{ key: k, target: t, op: '!=', value: actual }, false],
        [{ key: k, target: t, op: '<', value: actual + 1 }, true],
        [{ key: k, target: t, op: '<', value: actual }, false],
        [{ key: k, target: t, op: '>', value: actual - 1 }, true],
        [{ key: k, target: t, op: '>', value: actual }, false],
        // A missing key compares as 0.
        [{ key: missing, target: t, op: '=', value: 0 }, true],
        [{ key: missing, target: t, op: '>', value: 0 }, false],
        [{ key: missing, target: t, op: '<', value: 1 }, true],
        [{ key: missing, target: t, op: '!=', value: 0 }, false],
      );
    }
    for (const [compare, expected] of cases) {
      const branch = `${ns}c-branch`;
      const result = await store.txn(
        [compare],
        [{ type: 'put', key: branch, value: 'success' }],
        [{ type: 'put', key: branch, value: 'failure' }],
      );
      const outcome = { compare, succeeded: result.succeeded };
      expect(outcome).toEqual({ compare, succeeded: expected });
      expect((await store.get(branch))?.value).toBe(expected ? 'success' : 'failure');
    }
    // Compares are a conjunction.
    const both = await store.txn(
      [cases[0]![0], cases[1]![0]],
      [{ type: 'put', key: `${ns}c-and`, value: 'x' }],
    );
    expect(both.succeeded).toBe(false);
  });

  test('a txn putting the same key twice is rejected without effect', async () => {
    const k = `${ns}dup`;
    const attempt = store.txn(
      [],
      [
        { type: 'put', key: k, value: '1' },
        { type: 'put', key: k, value: '2' },
      ],
    );
    await expect(attempt).rejects.toThrow(/duplicate key/);
    await expect(attempt).rejects.not.toBeInstanceOf(MetadataUnavailableError);
    expect(await store.get(k)).toBeUndefined();
  });

  test('concurrent create-if-absent on one key: exactly one wins', async () => {
    const k = `${ns}race`;
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        store.txn(
          [{ key: k, target: 'createRevision', op: '=', value: 0 }],
          [{ type: 'put', key: k, value: `w${i}` }],
        ),
      ),
    );
    const winners = results.flatMap((r, i) => (r.succeeded ? [i] : []));
    expect(winners).toHaveLength(1);
    expect((await store.get(k))?.value).toBe(`w${winners[0]}`);
  });

  test('concurrent compare-and-swap increments lose no update', async () => {
    const k = `${ns}counter`;
    await store.put(k, '0');
    let applied = 0;
    const worker = async () => {
      for (let i = 0; i < 20; i++) {
        for (;;) {
          const current = (await store.get(k))!;
          const next = String(Number(current.value) + 1);
          const r = await store.txn(
            [{ key: k, target: 'modRevision', op: '=', value: current.modRevision }],
            [{ type: 'put', key: k, value: next }],
          );
          if (r.succeeded) {
            applied++;
            break;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    expect(applied).toBe(160);
    expect((await store.get(k))?.value).toBe('160');
  });

  test('revoking a lease deletes its keys; the lease cannot be used afterwards', async () => {
    const lease = await store.grantLease(5);
    await store.put(`${ns}l/a`, 'a', lease.id);
    await store.txn([], [{ type: 'put', key: `${ns}l/b`, value: 'b', lease: lease.id }]);
    await store.put(`${ns}l/free`, 'free');
    expect((await store.get(`${ns}l/a`))?.lease).toBe(lease.id);
    let lost = false;
    lease.onLost(() => (lost = true));
    await lease.revoke();
    expect((await store.getPrefix(`${ns}l/`)).map((kv) => kv.key)).toEqual([`${ns}l/free`]);
    const reuse = store.put(`${ns}l/c`, 'c', lease.id);
    await expect(reuse).rejects.toThrow(/lease/);
    await expect(reuse).rejects.not.toBeInstanceOf(MetadataUnavailableError);
    expect(lost).toBe(false);
  });

  test('a put without lease detaches the key from its lease', async () => {
    const lease = await store.grantLease(5);
    await store.put(`${ns}d`, 'leased', lease.id);
    await store.put(`${ns}d`, 'plain');
    await lease.revoke();
    expect(await store.get(`${ns}d`)).toMatchObject({ value: 'plain' });
    expect((await store.get(`${ns}d`))?.lease).toBeUndefined();
  });

  test('leased keys disappear when their owner goes away', async () => {
    const lease = await store.grantLease(1);
    await store.put(`${ns}e/leased`, 'x', lease.id);
    await store.put(`${ns}e/plain`, 'y');
    const other = await target.abandon(store);
    open.splice(open.indexOf(store), 1, other);
    const keys = await waitFor(
      async () => (await other.getPrefix(`${ns}e/`)).map((kv) => kv.key),
      (k) => k.length === 1,
      10_000,
    );
    expect(keys).toEqual([`${ns}e/plain`]);
  });

  test('watch delivers changes in revision order and resumes from a revision', async () => {
    const prefix = `${ns}w/`;
    const seen: WatchEvent[] = [];
    const watch = await store.watchPrefix(prefix, (events) => seen.push(...events));
    const r1 = await store.put(`${prefix}a`, '1');
    await store.put(`${ns}outside`, 'ignored');
    const r2 = await store.put(`${prefix}b`, '2');
    await store.delete(`${prefix}a`);
    const t = await store.txn(
      [],
      [
        { type: 'put', key: `${prefix}c`, value: '3' },
        { type: 'deletePrefix', prefix: `${prefix}b` },
      ],
    );
    await waitFor(
      async () => seen.length,
      (n) => n >= 5,
      5000,
    );
    expect(seen).toEqual([
      { type: 'put', key: `${prefix}a`, value: '1', modRevision: r1 },
      { type: 'put', key: `${prefix}b`, value: '2', modRevision: r2 },
      { type: 'delete', key: `${prefix}a`, value: '', modRevision: expect.any(Number) },
      { type: 'put', key: `${prefix}c`, value: '3', modRevision: t.revision },
      { type: 'delete', key: `${prefix}b`, value: '', modRevision: t.revision },
    ]);
    const revisions = seen.map((e) => e.modRevision);
    expect([...revisions].sort((a, b) => a - b)).toEqual(revisions);
    await watch.cancel();

    const replay: WatchEvent[] = [];
    const resumed = await store.watchPrefix(prefix, (events) => replay.push(...events), r2);
    await waitFor(
      async () => replay.length,
      (n) => n >= 4,
      5000,
    );
    expect(replay).toEqual(seen.slice(1));
    await store.put(`${prefix}d`, '4');
    await waitFor(
      async () => replay.length,
      (n) => n >= 5,
      5000,
    );
    expect(replay.slice(4).map((e) => e.key)).toEqual([`${prefix}d`]);
    await resumed.cancel();
    await store.put(`${prefix}e`, 'after cancel');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(replay).toHaveLength(5);
  });
}

/** Polls read until accept holds, failing with the last value after timeoutMs. */
export async function waitFor<T>(
  read: () => Promise<T>,
  accept: (value: T) => boolean,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met in time: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
