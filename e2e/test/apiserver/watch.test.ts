// Watch and list semantics at the HTTP level, where clients' retries cannot hide mistakes.
import { ApiServer } from '../../src/apiserver/index.js';

let api: ApiServer;
const CM = '/api/v1/namespaces/default/configmaps';

beforeAll(async () => {
  api = await ApiServer.start({ historyLimit: 10, bookmarkIntervalSeconds: 0.2 });
});
afterAll(async () => {
  await api.stop();
});

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const res = await fetch(api.url + path, {
    method,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

const put = (name: string, labels: Record<string, string>, ns = 'default') =>
  call('POST', `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name, labels } });

interface WatchEvent {
  type: string;
  object: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** Collects events until the server ends the stream or `until` is satisfied. */
async function watch(
  query: string,
  until?: (events: WatchEvent[]) => boolean,
  during?: () => Promise<void>,
) {
  const controller = new AbortController();
  const res = await fetch(`${api.url}${CM}?watch=true&${query}`, { signal: controller.signal });
  const events: WatchEvent[] = [];
  const reader = res.body!.getReader();
  let buffer = '';
  const pending = during?.();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += Buffer.from(value).toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        events.push(JSON.parse(buffer.slice(0, nl)) as WatchEvent);
        buffer = buffer.slice(nl + 1);
      }
      if (until?.(events)) {
        controller.abort();
        break;
      }
    }
  } catch (e) {
    if ((e as Error).name !== 'AbortError') throw e;
  }
  await pending;
  return events;
}

describe('watch and list over HTTP', () => {
  it('filters by label and field selectors, turning label changes into ADDED/DELETED', async () => {
    const start = (await call('GET', CM)).body.metadata.resourceVersion as string;
    await put('a', { tier: 'x', env: 'prod' });
    await put('b', { tier: 'y' });
    await put('c', { env: 'dev' });
    await put('d', { tier: 'x' }, 'kube-system');
    const names = async (sel: string) =>
      ((await call('GET', `${CM}?${sel}`)).body.items as { metadata: { name: string } }[]).map(
        (i) => i.metadata.name,
      );
    expect(await names('labelSelector=tier%3Dx')).toEqual(['a']);
    expect(await names('labelSelector=tier!%3Dx')).toEqual(['b', 'c']);
    expect(await names('labelSelector=tier%20in%20(x,y)')).toEqual(['a', 'b']);
    expect(await names('labelSelector=tier%20notin%20(x)')).toEqual(['b', 'c']);
    expect(await names('labelSelector=env')).toEqual(['a', 'c']);
    expect(await names('labelSelector=!env')).toEqual(['b']);
    expect(await names('fieldSelector=metadata.name%3Db')).toEqual(['b']);
    const all = (
      await call('GET', '/api/v1/configmaps?fieldSelector=metadata.namespace%3Dkube-system')
    ).body;
    expect(all.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['d']);
    expect((await call('GET', `${CM}?labelSelector=a%20b`)).status).toBe(400);

    const events = await watch(
      `resourceVersion=${start}&labelSelector=tier%3Dx`,
      (ev) => ev.length >= 3,
      async () => {
        await call(
          'PATCH',
          `${CM}/b`,
          { metadata: { labels: { tier: 'x' } } },
          { 'Content-Type': 'application/merge-patch+json' },
        );
        await call(
          'PATCH',
          `${CM}/a`,
          { metadata: { labels: { tier: null } } },
          { 'Content-Type': 'application/merge-patch+json' },
        );
      },
    );
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
      'ADDED a',
      'ADDED b',
      'DELETED a',
    ]);
  });

  it('replays current objects for resourceVersion 0 and ends at timeoutSeconds', async () => {
    const t0 = Date.now();
    const events = await watch('resourceVersion=0&timeoutSeconds=1&labelSelector=tier');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(events.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual(['ADDED b']);
  });

  it('sends bookmarks and the watch-list initial-events-end bookmark', async () => {
    const events = await watch(
      'sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan&resourceVersion=',
      (ev) => ev.filter((e) => e.type === 'BOOKMARK').length >= 2,
    );
    const firstBookmark = events.findIndex((e) => e.type === 'BOOKMARK');
    expect(events.slice(0, firstBookmark).every((e) => e.type === 'ADDED')).toBe(true);
    expect(events[firstBookmark].object.metadata.annotations).toEqual({
      'k8s.io/initial-events-end': 'true',
    });
    expect(events[firstBookmark + 1]).toMatchObject({
      type: 'BOOKMARK',
      object: { kind: 'ConfigMap' },
    });
    const refused = await call('GET', `${CM}?watch=true&sendInitialEvents=true`);
    expect(refused.status).toBe(422);
  });

  it('answers a too-old resourceVersion with an ERROR event carrying 410 Expired', async () => {
    const old = (await call('GET', CM)).body.metadata.resourceVersion as string;
    for (let i = 0; i < 12; i++) await put(`churn-${i}`, {});
    const events = await watch(`resourceVersion=${old}`);
    expect(events).toEqual([
      {
        type: 'ERROR',
        object: expect.objectContaining({
          kind: 'Status',
          status: 'Failure',
          reason: 'Expired',
          code: 410,
        }),
      },
    ]);
  });

  it('pages lists with limit/continue and renders Tables', async () => {
    const first = (await call('GET', `${CM}?limit=5`)).body;
    expect(first.items).toHaveLength(5);
    expect(first.metadata.remainingItemCount).toBeGreaterThan(0);
    const second = (
      await call('GET', `${CM}?limit=500&continue=${encodeURIComponent(first.metadata.continue)}`)
    ).body;
    const total = (await call('GET', CM)).body.items.length;
    expect(first.items.length + second.items.length).toBe(total);
    expect(second.metadata.continue).toBeUndefined();

    const table = (
      await call('GET', `${CM}?includeObject=Object`, undefined, {
        Accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json',
      })
    ).body;
    expect(table.kind).toBe('Table');
    expect(table.columnDefinitions.map((c: { name: string }) => c.name)).toEqual([
      'Name',
      'Data',
      'Age',
    ]);
    expect(table.rows[0].cells[0]).toBe(table.rows[0].object.metadata.name);
  });

  it('answers errors with Status bodies', async () => {
    const missing = await call('GET', `${CM}/nope`);
    expect(missing).toEqual({
      status: 404,
      body: expect.objectContaining({
        kind: 'Status',
        reason: 'NotFound',
        message: 'configmaps "nope" not found',
        code: 404,
      }),
    });
    const noNs = await call('POST', '/api/v1/namespaces/absent/configmaps', {
      metadata: { name: 'x' },
    });
    expect(noNs.body).toMatchObject({ code: 404, message: 'namespaces "absent" not found' });
    const badName = await call('POST', CM, { metadata: { name: 'Bad_Name' } });
    expect(badName.body).toMatchObject({ code: 422, reason: 'Invalid' });
    const unknown = await call('GET', '/apis/nope.example.com/v1/things');
    expect(unknown.status).toBe(404);
  });
});
