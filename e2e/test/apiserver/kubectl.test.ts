// The real kubectl 1.34 binary against the emulator: the commands people and our docs use.
import {
  eventually,
  startCluster,
  WIDGET_CRD,
  type EmulatedCluster,
} from '../support/emulated-cluster.js';

let c: EmulatedCluster;

beforeAll(async () => {
  c = await startCluster();
});
afterAll(async () => {
  await c.stop();
});

const CONFIGMAPS = `
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: { app: demo }
data:
  a: "1"
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: other
data:
  b: "2"
`;

const deployment = (image: string, env: string[]) => `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: ${image}
          env:
${env.map((e) => `            - { name: ${e}, value: "x" }`).join('\n')}
          ports:
            - containerPort: 80
        - name: sidecar
          image: busybox
`;

const widget = (name: string, spec: string) => `
apiVersion: example.kafscale.io/v1alpha1
kind: Widget
metadata:
  name: ${name}
spec: ${spec}
`;

const json = async (args: string[]) => JSON.parse(await c.ok([...args, '-o', 'json']));

describe('kubectl against the emulator', () => {
  it('applies ConfigMaps, then reapplies a change with the last-applied annotation', async () => {
    expect(await c.ok(['apply', '-f', '-'], CONFIGMAPS)).toContain('configmap/settings created');
    const changed = CONFIGMAPS.replace('a: "1"', 'a: "changed"').replace(
      'b: "2"',
      'b: "2"\n  c: "3"',
    );
    const out = await c.ok(['apply', '-f', '-'], changed);
    expect(out).toContain('configmap/settings configured');
    expect(out).toContain('configmap/other configured');
    const cm = await json(['get', 'cm', 'settings']);
    expect(cm.data).toEqual({ a: 'changed' });
    expect(cm.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toContain(
      'changed',
    );
    expect(await c.ok(['apply', '-f', '-'], changed)).toContain('configmap/settings unchanged');
    // No --validate=false: kubectl found fieldValidation in /openapi/v3 and let the server check.
    expect(c.api.requests.some((r) => r.url.includes('fieldValidation=Strict'))).toBe(true);
  });

  it('applies a Deployment and merges containers/env by name with a strategic merge patch', async () => {
    await c.ok(['apply', '-f', '-'], deployment('nginx:1', ['A', 'B']));
    const out = await c.ok(['apply', '-f', '-'], deployment('nginx:2', ['A']));
    expect(out).toContain('deployment.apps/web configured');
    const patchReq = c.api.requests.filter(
      (r) => r.method === 'PATCH' && r.url.includes('/deployments/web'),
    );
    expect(patchReq.at(-1)?.contentType).toBe('application/strategic-merge-patch+json');
    const d = await json(['get', 'deployment', 'web']);
    expect(d.metadata.generation).toBe(2);
    expect(d.spec.template.spec.containers.map((x: { name: string }) => x.name)).toEqual([
      'web',
      'sidecar',
    ]);
    expect(d.spec.template.spec.containers[0].image).toBe('nginx:2');
    expect(d.spec.template.spec.containers[0].env).toEqual([{ name: 'A', value: 'x' }]);

    await c.ok([
      'patch',
      'deployment',
      'web',
      '-p',
      '{"spec":{"template":{"spec":{"containers":[{"name":"sidecar","image":"busybox:2"}]}}}}',
    ]);
    await c.ok([
      'patch',
      'deployment',
      'web',
      '--type',
      'strategic',
      '-p',
      '{"spec":{"template":{"spec":{"containers":[{"name":"web","$patch":"delete"}]}}}}',
    ]);
    const after = await json(['get', 'deployment', 'web']);
    expect(after.spec.template.spec.containers).toEqual([{ name: 'sidecar', image: 'busybox:2' }]);
  });

  it('scales a Deployment through its scale subresource', async () => {
    expect(await c.ok(['scale', 'deployment', 'web', '--replicas=3'])).toContain('scaled');
    expect((await json(['get', 'deployment', 'web'])).spec.replicas).toBe(3);
    const scale = c.api.requests.filter((r) => r.url.includes('/deployments/web/scale'));
    expect(scale.at(-1)?.method).toBe('PATCH');
    const table = await c.ok(['get', 'deployment', 'web']);
    expect(table).toMatch(/NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE/);
    expect(table).toMatch(/web\s+0\/3/);
  });

  it('patches with --type merge and --type json', async () => {
    await c.ok(['patch', 'cm', 'settings', '--type', 'merge', '-p', '{"data":{"m":"1","a":null}}']);
    await c.ok([
      'patch',
      'cm',
      'settings',
      '--type',
      'json',
      '-p',
      '[{"op":"add","path":"/data/j","value":"2"},{"op":"test","path":"/data/m","value":"1"}]',
    ]);
    expect((await json(['get', 'cm', 'settings'])).data).toEqual({ m: '1', j: '2' });
    const failed = await c.k([
      'patch',
      'cm',
      'settings',
      '--type',
      'json',
      '-p',
      '[{"op":"test","path":"/data/m","value":"nope"}]',
    ]);
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain('test failed');
  });

  it('registers a CRD and serves its resources, printer columns, -o json and the scale subresource', async () => {
    await c.ok(['apply', '-f', '-'], WIDGET_CRD);
    await c.ok([
      'wait',
      '--for=condition=Established',
      'crd/widgets.example.kafscale.io',
      '--timeout=10s',
    ]);
    expect(
      await c.ok(['apply', '-f', '-'], widget('w1', '{ size: small, config: { any: [1, 2] } }')),
    ).toContain('widget.example.kafscale.io/w1 created');
    let w = await json(['get', 'widget', 'w1']);
    expect(w.spec).toEqual({
      size: 'small',
      replicas: 1,
      storageClass: 'standard',
      config: { any: [1, 2] },
    });
    expect(w.metadata.generation).toBe(1);

    const out = await c.ok(
      ['apply', '-f', '-'],
      widget('w1', '{ size: large, config: { any: [1, 2] } }'),
    );
    expect(out).toContain('widget.example.kafscale.io/w1 configured');
    expect(c.api.requests.filter((r) => r.method === 'PATCH').at(-1)?.contentType).toBe(
      'application/merge-patch+json',
    );
    w = await json(['get', 'wd', 'w1']);
    expect(w.spec.size).toBe('large');
    expect(w.metadata.generation).toBe(2);

    expect(await c.ok(['scale', 'widget', 'w1', '--replicas=4'])).toContain(
      'widget.example.kafscale.io/w1 scaled',
    );
    const table = await c.ok(['get', 'widgets']);
    expect(table).toMatch(/NAME\s+REPLICAS\s+SIZE\s+READY\s+AGE/);
    expect(table).toMatch(/w1\s+4\s+large\s+\d+s/);

    // status writes go through /status only; the main resource ignores status.
    await c.ok([
      'patch',
      'widget',
      'w1',
      '--type',
      'merge',
      '--subresource',
      'status',
      '-p',
      '{"status":{"replicas":4,"selector":"app=w1","conditions":[{"type":"Ready","status":"True"}]}}',
    ]);
    await c.ok(['patch', 'widget', 'w1', '--type', 'merge', '-p', '{"status":{"replicas":99}}']);
    expect((await json(['get', 'widget', 'w1'])).status.replicas).toBe(4);
    expect(await c.ok(['get', 'widgets'])).toMatch(/w1\s+4\s+large\s+True/);
    expect(await c.ok(['get', 'widget', 'w1', '-o', 'jsonpath={.metadata.generation}'])).toBe('3');
  });

  it('refuses invalid custom resources with the reasons', async () => {
    const bad = await c.k(['apply', '-f', '-'], widget('bad', '{ size: huge, replicas: -1 }'));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(
      'spec.size: Unsupported value: "huge": supported values: "small", "large"',
    );
    expect(bad.stderr).toContain(
      'spec.replicas: Invalid value: -1: spec.replicas in body should be greater than or equal to 0',
    );

    const missing = await c.k(['apply', '-f', '-'], widget('bad', '{ replicas: 1 }'));
    expect(missing.stderr).toContain('spec.size: Required value');

    const unknown = await c.k(['apply', '-f', '-'], widget('bad', '{ size: small, bogus: 1 }'));
    expect(unknown.stderr).toContain('strict decoding error: unknown field "spec.bogus"');

    const immutable = await c.k([
      'patch',
      'widget',
      'w1',
      '--type',
      'merge',
      '-p',
      '{"spec":{"storageClass":"fast"}}',
    ]);
    expect(immutable.stderr).toContain('storageClass is immutable');
    const cel = await c.k([
      'patch',
      'widget',
      'w1',
      '--type',
      'merge',
      '-p',
      '{"spec":{"replicas":6}}',
    ]);
    expect(cel.stderr).toContain('large widgets allow at most 5 replicas');

    const smp = await c.k(['patch', 'widget', 'w1', '-p', '{"spec":{"size":"small"}}']);
    expect(smp.stderr).toContain('application/strategic-merge-patch+json is not supported');
    expect((await c.k(['get', 'widget', 'bad'])).code).not.toBe(0);
  });

  it('applies server-side, reports conflicts with other managers and forces them', async () => {
    const cm = (a: string, b: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: "${a}"\n  b: "${b}"\n`;
    expect(await c.ok(['apply', '--server-side', '-f', '-'], cm('1', '2'))).toContain(
      'configmap/ssa serverside-applied',
    );
    const applyReq = c.api.requests.filter((r) => r.method === 'PATCH').at(-1);
    expect(applyReq?.contentType).toBe('application/apply-patch+yaml');
    expect(applyReq?.url).toContain('fieldManager=kubectl');

    await c.ok(['patch', 'cm', 'ssa', '--type', 'merge', '-p', '{"data":{"a":"theirs"}}']);
    const conflictRun = await c.k(['apply', '--server-side', '-f', '-'], cm('1', '3'));
    expect(conflictRun.code).not.toBe(0);
    expect(conflictRun.stderr).toContain(
      'Apply failed with 1 conflict: conflict with "kubectl-patch" using v1: .data.a',
    );

    await c.ok(['apply', '--server-side', '--force-conflicts', '-f', '-'], cm('1', '3'));
    const after = await json(['get', 'cm', 'ssa', '--show-managed-fields']);
    expect(after.data).toEqual({ a: '1', b: '3' });
    expect(after.metadata.managedFields.map((m: { manager: string }) => m.manager)).toEqual([
      'kubectl',
    ]);

    // Fields the applier stops sending are removed.
    await c.ok(
      ['apply', '--server-side', '-f', '-'],
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ssa\ndata:\n  a: "1"\n',
    );
    expect((await json(['get', 'cm', 'ssa'])).data).toEqual({ a: '1' });

    await c.ok(['apply', '--server-side', '-f', '-'], widget('ssa', '{ size: small }'));
    expect((await json(['get', 'widget', 'ssa'])).spec.replicas).toBe(1);
  });

  it('streams changes with get -w', async () => {
    const child = c.spawn(['get', 'configmaps', '-w', '--request-timeout=20s']);
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await eventually(() => out.includes('settings'), 'the initial listing');
    await c.ok(
      ['apply', '-f', '-'],
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: watched\ndata: { x: "1" }\n',
    );
    await eventually(() => /watched\s+1\s+/.test(out), 'the ADDED row');
    await c.ok(['patch', 'cm', 'watched', '--type', 'merge', '-p', '{"data":{"y":"2"}}']);
    await eventually(() => /watched\s+2\s+/.test(out), 'the MODIFIED row');
    child.kill();
  });

  it('cascades deletion to owned objects (background, foreground, orphan)', async () => {
    const owner = (name: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n`;
    const owned = (name: string, ownerName: string, uid: string, block = false) =>
      `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\n  ownerReferences:\n    - { apiVersion: v1, kind: ConfigMap, name: ${ownerName}, uid: ${uid}, blockOwnerDeletion: ${block} }\n`;
    for (const name of ['bg', 'fg', 'orphan']) {
      await c.ok(['apply', '-f', '-'], owner(name));
      const uid = await c.ok(['get', 'cm', name, '-o', 'jsonpath={.metadata.uid}']);
      await c.ok(['apply', '-f', '-'], owned(`${name}-child`, name, uid, name === 'fg'));
    }
    expect(await c.ok(['delete', 'cm', 'bg'])).toContain('configmap "bg" deleted');
    await eventually(
      async () => (await c.k(['get', 'secret', 'bg-child'])).code !== 0,
      'background GC',
    );

    // A finalizer on the child holds the foreground owner until the child is really gone.
    await c.ok([
      'patch',
      'secret',
      'fg-child',
      '--type',
      'merge',
      '-p',
      '{"metadata":{"finalizers":["example.com/hold"]}}',
    ]);
    await c.ok(['delete', 'cm', 'fg', '--cascade=foreground', '--wait=false']);
    const fg = await json(['get', 'cm', 'fg']);
    expect(fg.metadata.finalizers).toContain('foregroundDeletion');
    expect(fg.metadata.deletionTimestamp).toBeTruthy();
    await eventually(
      async () => (await json(['get', 'secret', 'fg-child'])).metadata.deletionTimestamp,
      'child marked',
    );
    await c.ok([
      'patch',
      'secret',
      'fg-child',
      '--type',
      'json',
      '-p',
      '[{"op":"remove","path":"/metadata/finalizers"}]',
    ]);
    await eventually(
      async () => (await c.k(['get', 'cm', 'fg'])).code !== 0,
      'foreground owner gone',
    );

    await c.ok(['delete', 'cm', 'orphan', '--cascade=orphan']);
    const orphaned = await json(['get', 'secret', 'orphan-child']);
    expect(orphaned.metadata.ownerReferences).toBeUndefined();
  });

  it('holds deletion while finalizers remain, and cascades namespace deletion', async () => {
    await c.ok(
      ['apply', '-f', '-'],
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: held\n  finalizers: [example.com/hold]\n',
    );
    const del = await c.k(['delete', 'cm', 'held', '--wait=false']);
    expect(del.code).toBe(0);
    expect((await json(['get', 'cm', 'held'])).metadata.deletionTimestamp).toBeTruthy();
    const added = await c.k([
      'patch',
      'cm',
      'held',
      '--type',
      'merge',
      '-p',
      '{"metadata":{"finalizers":["example.com/hold","example.com/more"]}}',
    ]);
    expect(added.stderr).toContain('no new finalizers can be added if the object is being deleted');
    await c.ok([
      'patch',
      'cm',
      'held',
      '--type',
      'merge',
      '-p',
      '{"metadata":{"finalizers":null}}',
    ]);
    expect((await c.k(['get', 'cm', 'held'])).stderr).toContain('NotFound');

    await c.ok(
      ['apply', '-f', '-'],
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: doomed\n',
    );
    await c.ok(['apply', '-n', 'doomed', '-f', '-'], CONFIGMAPS);
    await c.ok(['apply', '-n', 'doomed', '-f', '-'], widget('w', '{ size: small }'));
    expect(await c.ok(['delete', 'namespace', 'doomed', '--timeout=10s'])).toContain(
      'namespace "doomed" deleted',
    );
    expect((await c.k(['get', 'ns', 'doomed'])).code).not.toBe(0);
    expect(c.api.storage.list('/configmaps', 'doomed')).toEqual([]);
    expect(c.api.storage.list('example.kafscale.io/widgets', 'doomed')).toEqual([]);
  });

  it('deletes custom resources with their CRD', async () => {
    expect(await c.ok(['delete', 'crd', 'widgets.example.kafscale.io', '--timeout=10s'])).toContain(
      'deleted',
    );
    expect(c.api.storage.list('example.kafscale.io/widgets')).toEqual([]);
    const gone = await c.k(['get', 'widgets']);
    expect(gone.code).not.toBe(0);
  });
});
