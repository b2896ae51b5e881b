// What a real API server does to objects on the way in, through real kubectl and plain HTTP:
// a Secret's write-only stringData folded into data, and CRD structural schemas whose
// x-kubernetes-preserve-unknown-fields / x-kubernetes-embedded-resource sit below the root.
import { eventually, startCluster, type EmulatedCluster } from '../support/emulated-cluster.js';

let c: EmulatedCluster;
let base: string;

beforeAll(async () => {
  c = await startCluster();
  base = c.api.url;
});
afterAll(async () => {
  await c.stop();
});

const json = async (args: string[]) => JSON.parse(await c.ok([...args, '-o', 'json']));
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

async function http(
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': contentType },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('Secret stringData', () => {
  const SECRET = `
apiVersion: v1
kind: Secret
metadata:
  name: creds
type: Opaque
data:
  user: ${b64('old-user')}
  kept: ${b64('kept')}
stringData:
  user: admin
  password: "s3cr3t é"
`;

  it('is folded into data by kubectl apply, stringData winning, and never returned', async () => {
    expect(await c.ok(['apply', '-f', '-'], SECRET)).toContain('secret/creds created');
    const s = await json(['get', 'secret', 'creds']);
    expect(s.data).toEqual({ user: b64('admin'), kept: b64('kept'), password: b64('s3cr3t é') });
    expect(s.stringData).toBeUndefined();
    expect(c.api.storage.get('/secrets', 'default', 'creds')?.stringData).toBeUndefined();

    // A second apply with a changed stringData value: kubectl sends a strategic merge patch.
    const out = await c.ok(['apply', '-f', '-'], SECRET.replace('user: admin', 'user: root'));
    expect(out).toContain('secret/creds configured');
    const after = await json(['get', 'secret', 'creds']);
    expect(after.data.user).toBe(b64('root'));
    expect(after.stringData).toBeUndefined();
  });

  it('lands in data on merge, JSON and strategic patches, server-side apply and update', async () => {
    await c
      .ok([
        'create',
        'secret',
        'generic',
        'p',
        '--from-literal=a=1',
        '--dry-run=client',
        '-o',
        'yaml',
      ])
      .then((y) => c.ok(['apply', '-f', '-'], y));
    await c.ok(['patch', 'secret', 'p', '--type', 'merge', '-p', '{"stringData":{"b":"two"}}']);
    await c.ok(['patch', 'secret', 'p', '-p', '{"stringData":{"a":"one"}}']);
    await c.ok([
      'patch',
      'secret',
      'p',
      '--type',
      'json',
      '-p',
      '[{"op":"add","path":"/stringData","value":{"c":"three"}}]',
    ]);
    let s = await json(['get', 'secret', 'p']);
    expect(s.data).toEqual({ a: b64('one'), b: b64('two'), c: b64('three') });
    expect(s.stringData).toBeUndefined();

    const ssa = `
apiVersion: v1
kind: Secret
metadata:
  name: p
stringData:
  d: four
`;
    await c.ok(['apply', '--server-side', '-f', '-'], ssa);
    s = await json(['get', 'secret', 'p']);
    expect(s.data.d).toBe(b64('four'));
    expect(s.stringData).toBeUndefined();

    // A plain PUT and a POST through HTTP, and the response bodies themselves.
    const put = await http('PUT', '/api/v1/namespaces/default/secrets/p', {
      ...s,
      stringData: { e: 'five' },
    });
    expect(put.status).toBe(200);
    expect(put.body.stringData).toBeUndefined();
    expect((put.body.data as Record<string, string>).e).toBe(b64('five'));
    const post = await http('POST', '/api/v1/namespaces/default/secrets', {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'posted' },
      stringData: { only: 'x' },
    });
    expect(post.status).toBe(201);
    expect(post.body.data).toEqual({ only: b64('x') });
    expect(post.body.stringData).toBeUndefined();

    // A dry run shows the folded object too, and stores nothing.
    const dry = await http('POST', '/api/v1/namespaces/default/secrets?dryRun=All', {
      metadata: { name: 'dry' },
      stringData: { k: 'v' },
    });
    expect(dry.status).toBe(201);
    expect(dry.body.data).toEqual({ k: b64('v') });
    expect(dry.body.stringData).toBeUndefined();
    expect((await c.k(['get', 'secret', 'dry'])).code).not.toBe(0);
  });

  it('rejects a stringData value that is not a string, as decoding does', async () => {
    const r = await http('POST', '/api/v1/namespaces/default/secrets', {
      metadata: { name: 'bad' },
      stringData: { n: 5 },
    });
    expect(r.status).toBe(400);
    expect(r.body.message).toContain(
      'cannot unmarshal number into Go struct field Secret.stringData',
    );
  });

  it('leaves stringData alone on other kinds', async () => {
    const r = await http('POST', '/api/v1/namespaces/default/configmaps', {
      metadata: { name: 'not-a-secret' },
      data: { a: 'b' },
    });
    expect(r.status).toBe(201);
    expect(r.body.data).toEqual({ a: 'b' });
  });
});

const GADGET_CRD = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.kafscale.io
spec:
  group: example.kafscale.io
  scope: Namespaced
  names: { plural: gadgets, singular: gadget, kind: Gadget }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                template:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
                  properties:
                    replicas: { type: integer, minimum: 0, default: 1 }
                    known:
                      type: object
                      properties:
                        a: { type: string, default: dflt }
                other:
                  type: object
                  properties:
                    keep: { type: string }
                pod:
                  type: object
                  x-kubernetes-embedded-resource: true
                  properties:
                    spec:
                      type: object
                      properties:
                        image: { type: string }
                anything:
                  type: object
                  x-kubernetes-embedded-resource: true
                  x-kubernetes-preserve-unknown-fields: true
                items:
                  type: array
                  items:
                    type: object
                    x-kubernetes-preserve-unknown-fields: true
                    properties:
                      name: { type: string }
                list:
                  type: array
                  x-kubernetes-preserve-unknown-fields: true
                  items:
                    type: object
                    properties:
                      name: { type: string }
`;

const gadget = (name: string, spec: string) => `
apiVersion: example.kafscale.io/v1
kind: Gadget
metadata:
  name: ${name}
spec: ${spec}
`;

describe('CRD schemas with nested preserve-unknown-fields and embedded resources', () => {
  beforeAll(async () => {
    await c.ok(['apply', '-f', '-'], GADGET_CRD);
    await eventually(async () => (await c.k(['get', 'gadgets'])).code === 0, 'gadgets served');
  });

  const SPEC = `
    template:
      foo: { bar: 1, deep: { list: [1, { x: why }] } }
      metadata: { labels: { app: g } }
      known: { a: set, unknownBelowKnown: 1 }
    other: { keep: k, drop: 1 }
    pod:
      apiVersion: v1
      kind: Pod
      metadata: { name: p, labels: { a: b } }
      spec: { image: busybox, extra: 1 }
      loose: 2
    anything:
      apiVersion: v1
      kind: ConfigMap
      metadata: { name: cm }
      data: { k: v }
    items:
      - { name: one, free: { form: true } }
    list:
      - { name: two, free: 2 }
`;

  it('keeps unknown fields under the preserved node and prunes the others on create and get', async () => {
    const out = await c.k(['apply', '--validate=false', '-f', '-'], gadget('g1', SPEC));
    expect(out.code).toBe(0);
    const g = await json(['get', 'gadget', 'g1']);
    expect(g.spec.template).toEqual({
      foo: { bar: 1, deep: { list: [1, { x: 'why' }] } },
      metadata: { labels: { app: 'g' } },
      // Declared properties below the preserved node are still pruned and defaulted.
      known: { a: 'set' },
      replicas: 1,
    });
    expect(g.spec.other).toEqual({ keep: 'k' });
    expect(g.spec.pod).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'p', labels: { a: 'b' } },
      spec: { image: 'busybox' },
    });
    expect(g.spec.anything).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'cm' },
      data: { k: 'v' },
    });
    expect(g.spec.items).toEqual([{ name: 'one', free: { form: true } }]);
    // On a list, the marker covers the items as well (the server's skipPrune).
    expect(g.spec.list).toEqual([{ name: 'two', free: 2 }]);
  });

  it('defaults known properties under a preserved node that has none of them', async () => {
    await c.ok(
      ['apply', '--validate=false', '-f', '-'],
      gadget('g2', '{ template: { x: 1, known: {} } }'),
    );
    const g = await json(['get', 'gadget', 'g2']);
    expect(g.spec.template).toEqual({ x: 1, known: { a: 'dflt' }, replicas: 1 });
  });

  it('validates known properties under a preserved node', async () => {
    const r = await c.k(['apply', '-f', '-'], gadget('g3', '{ template: { x: 1, replicas: -1 } }'));
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('spec.template.replicas');
  });

  it('with strict field validation reports only the fields that are really unknown', async () => {
    // kubectl --validate=strict (its default) asks the server for fieldValidation=Strict.
    const bad = await c.k(['apply', '--validate=strict', '-f', '-'], gadget('g4', SPEC));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('unknown field "spec.other.drop"');
    expect(bad.stderr).toContain('unknown field "spec.pod.loose"');
    expect(bad.stderr).toContain('unknown field "spec.template.known.unknownBelowKnown"');
    expect(bad.stderr).not.toContain('spec.template.foo');
    expect(bad.stderr).not.toContain('spec.template.metadata');
    expect(bad.stderr).not.toContain('spec.anything');
    expect(bad.stderr).not.toContain('spec.items');
    expect(bad.stderr).not.toMatch(/unknown field "spec\.pod\.(apiVersion|kind|metadata)/);

    const fine = `
    template: { foo: { bar: 1 }, metadata: { labels: { app: g } } }
    pod: { apiVersion: v1, kind: Pod, metadata: { name: p }, spec: { image: busybox } }
    anything: { apiVersion: v1, kind: ConfigMap, metadata: { name: cm }, data: { k: v } }
    items: [{ name: one, free: 1 }]
`;
    expect(await c.ok(['apply', '--validate=strict', '-f', '-'], gadget('g4', fine))).toContain(
      'gadget.example.kafscale.io/g4 created',
    );
    const g = await json(['get', 'gadget', 'g4']);
    expect(g.spec.template.foo).toEqual({ bar: 1 });
    expect(g.spec.pod.metadata).toEqual({ name: 'p' });
    expect(g.spec.anything.data).toEqual({ k: 'v' });
  });

  it('keeps unknown fields under the preserved node through patches and server-side apply', async () => {
    await c.ok([
      'patch',
      'gadget',
      'g1',
      '--type',
      'merge',
      '-p',
      '{"spec":{"template":{"added":{"n":1}},"other":{"added":1}}}',
    ]);
    let g = await json(['get', 'gadget', 'g1']);
    expect(g.spec.template.added).toEqual({ n: 1 });
    expect(g.spec.template.foo).toEqual({ bar: 1, deep: { list: [1, { x: 'why' }] } });
    expect(g.spec.other).toEqual({ keep: 'k' });

    await c.ok(
      ['apply', '--server-side', '-f', '-'],
      gadget('g5', '{ template: { ssa: { deep: [1] } } }'),
    );
    g = await json(['get', 'gadget', 'g5']);
    expect(g.spec.template).toEqual({ ssa: { deep: [1] }, replicas: 1 });
  });

  it('validates apiVersion and kind of an embedded resource', async () => {
    const post = (name: string, spec: unknown) =>
      http('POST', '/apis/example.kafscale.io/v1/namespaces/default/gadgets', {
        apiVersion: 'example.kafscale.io/v1',
        kind: 'Gadget',
        metadata: { name },
        spec,
      });
    const r = await post('g6', {
      pod: { metadata: { name: 'p' } },
      anything: { apiVersion: '', kind: 'Not_A_Kind', x: 1 },
    });
    expect(r.status).toBe(422);
    expect(r.body.reason).toBe('Invalid');
    const causes = (r.body.details as { causes: { field: string; message: string }[] }).causes;
    expect(causes).toEqual(
      expect.arrayContaining([
        { reason: 'FieldValueRequired', field: 'spec.pod.apiVersion', message: 'Required value' },
        { reason: 'FieldValueRequired', field: 'spec.pod.kind', message: 'Required value' },
        {
          reason: 'FieldValueInvalid',
          field: 'spec.anything.apiVersion',
          message: 'Invalid value: "": must not be empty',
        },
        expect.objectContaining({
          field: 'spec.anything.kind',
          message: expect.stringContaining('may have mixed case, but should otherwise match'),
        }),
      ]),
    );
    expect(causes).toHaveLength(4);
    // kubectl prints the causes the way a real server words them.
    const k = await c.k(['apply', '-f', '-'], gadget('g7', '{ pod: { kind: Pod } }'));
    expect(k.code).not.toBe(0);
    expect(k.stderr).toContain('spec.pod.apiVersion: Required value');

    expect((await post('g8', { pod: { apiVersion: 'v1', kind: 'Pod' } })).status).toBe(201);
  });
});
