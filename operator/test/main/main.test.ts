import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CoordinationV1Api } from '@kubernetes/client-node';
import Transport from 'winston-transport';
import { parseFlags, runOperator, type RunningOperator } from '../../src/main.js';
import { createMetrics, parseListenAddress } from '../../src/run.js';
import { cluster, read, startHarness, waitFor, type Harness } from '../reconcilers/harness.js';

class Collect extends Transport {
  readonly lines: Record<string, unknown>[] = [];
  override log(info: Record<string, unknown>, next: () => void): void {
    this.lines.push(info);
    next();
  }
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, body: await r.text() };
}

describe('flags', () => {
  test('parses the flags the chart passes', () => {
    const f = parseFlags([
      '--broker-image=ghcr.io/kafscale/broker:1.2.3',
      '--cluster-domain=example.internal',
      '--metrics-addr=:9090',
      '--log-level=debug',
      '--leader-elect=true',
      '--leader-election-namespace=kafscale-system',
      '--leader-election-id=kafscale-operator',
      '--watch-namespaces=a, b,,a',
    ]);
    expect(f).toMatchObject({
      brokerImage: 'ghcr.io/kafscale/broker:1.2.3',
      clusterDomain: 'example.internal',
      metricsAddr: ':9090',
      logLevel: 'debug',
      leaderElect: true,
      leaderElectionNamespace: 'kafscale-system',
      leaderElectionId: 'kafscale-operator',
      watchNamespaces: ['a', 'b', 'a'],
    });
    expect(parseFlags(['--leader-elect']).leaderElect).toBe(true);
    expect(parseFlags(['--leader-elect=false']).leaderElect).toBe(false);
    expect(parseFlags([]).watchNamespaces).toEqual([]);
  });

  test('rejects unknown flags and bad values with the flag named', () => {
    expect(() => parseFlags(['--nope=1'])).toThrow(/nope/);
    expect(() => parseFlags(['--log-level=loud'])).toThrow(/--log-level/);
    expect(() => parseFlags(['--leader-elect=maybe'])).toThrow(/--leader-elect/);
    expect(() => parseListenAddress('8080')).toThrow(/--metrics-addr/);
    expect(parseListenAddress(':8080')).toEqual({ host: undefined, port: 8080 });
    expect(parseListenAddress('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListenAddress('[::1]:81')).toEqual({ host: '::1', port: 81 });
  });
});

describe('metrics', () => {
  test('instrument counts results, errors and durations per kind', async () => {
    const m = createMetrics();
    const ok = m.instrument('kafscalecluster', () => Promise.resolve());
    const requeue = m.instrument('kafscalecluster', () => Promise.resolve({ requeueAfterMs: 5 }));
    const fail = m.instrument('kafscaletopic', () => Promise.reject(new Error('boom')));
    await ok('default/a');
    await requeue('default/a');
    await expect(fail('default/t')).rejects.toThrow('boom');
    const text = await m.registry.metrics();
    expect(text).toContain(
      'kafscale_operator_reconcile_total{kind="KafScaleCluster",result="success"} 1',
    );
    expect(text).toContain(
      'kafscale_operator_reconcile_total{kind="KafScaleCluster",result="requeue"} 1',
    );
    expect(text).toContain(
      'kafscale_operator_reconcile_total{kind="KafScaleTopic",result="error"} 1',
    );
    expect(text).toContain('kafscale_operator_reconcile_errors_total{kind="KafScaleTopic"} 1');
    expect(text).toContain(
      'kafscale_operator_reconcile_duration_seconds_count{kind="KafScaleCluster"} 2',
    );
  });
});

describe('runOperator', () => {
  let h: Harness;
  let op: RunningOperator | undefined;

  beforeEach(async () => {
    h = await startHarness();
  });
  afterEach(async () => {
    await op?.stop();
    op = undefined;
    await h.stop();
  });

  test('reconciles a cluster applied with kubectl, serves probes and metrics', async () => {
    const logs = new Collect();
    op = await runOperator(
      [
        `--kubeconfig=${h.kubeconfig}`,
        '--broker-image=ghcr.io/kafscale/broker:9.9.9',
        '--cluster-domain=cluster.local',
        '--metrics-addr=127.0.0.1:0',
        '--log-level=debug',
        '--leader-elect=true',
        '--leader-election-namespace=default',
        '--leader-election-id=kafscale-operator',
        '--watch-namespaces=default',
      ],
      { logTransport: logs, retryPeriodMs: 100 },
    );
    expect((await get(op.port, '/healthz')).status).toBe(200);
    await waitFor(async () => (await get(op!.port, '/readyz')).status === 200, 'readyz 200');
    expect(op.manager.isReady()).toBe(true);

    const file = join(dirname(h.kubeconfig), 'cluster.yaml');
    writeFileSync(file, JSON.stringify(cluster('demo')));
    await h.ok(['apply', '-f', file]);

    const deployment = await waitFor(
      () =>
        read<{ spec: { template: { spec: { containers: { image: string }[] } } } }>(
          h.client,
          'apps/v1',
          'Deployment',
          'demo-broker',
        ),
      'the broker Deployment',
      15_000,
    );
    expect(deployment.spec.template.spec.containers[0]!.image).toBe(
      'ghcr.io/kafscale/broker:9.9.9',
    );

    const lease = await h.kc
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ namespace: 'default', name: 'kafscale-operator' });
    expect(lease.spec?.holderIdentity).toBeTruthy();

    const metrics = await waitFor(async () => {
      const m = await get(op!.port, '/metrics');
      return (
        /kafscale_operator_reconcile_total\{kind="KafScaleCluster",result="(success|requeue)"\} [1-9]/.test(
          m.body,
        ) && m
      );
    }, 'reconcile counted');
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(
      /kafscale_operator_reconcile_duration_seconds_count\{kind="KafScaleCluster"\} [1-9]/,
    );
    expect(metrics.body).toContain('# TYPE kafscale_operator_reconcile_errors_total counter');
    expect(metrics.body).toContain('process_cpu_user_seconds_total');
    expect((await get(op.port, '/nope')).status).toBe(404);

    // Structured JSON logs at the requested level.
    expect(logs.lines.some((l) => l.message === 'started leading')).toBe(true);
    expect(logs.lines.some((l) => l.level === 'debug' && l.message === 'reconcile')).toBe(true);

    await op.stop();
    op = undefined;
    // The Lease is released on shutdown.
    const released = await h.kc
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ namespace: 'default', name: 'kafscale-operator' });
    expect(released.spec?.holderIdentity).toBe('');
  });

  test('main exits 0 on SIGTERM after releasing the Lease', async () => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('../../src/main.ts', import.meta.url)),
        `--kubeconfig=${h.kubeconfig}`,
        '--metrics-addr=127.0.0.1:0',
        '--leader-elect',
        '--leader-election-namespace=default',
        '--watch-namespaces=default',
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    await waitFor(() => out.includes('started leading'), 'the child leads', 20_000).catch((e) => {
      throw new Error(`${(e as Error).message}\n${out}`);
    });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(out).toContain('operator stopped');
    const lease = await h.kc
      .makeApiClient(CoordinationV1Api)
      .readNamespacedLease({ namespace: 'default', name: 'kafscale-operator' });
    expect(lease.spec?.holderIdentity).toBe('');
  });
});
