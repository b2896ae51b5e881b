// The object store health state machine on a fake clock: thresholds, the window sliding, and
// recovery without traffic.
import { S3HealthMonitor, S3HealthState } from '../../src/observability/s3-health.js';
import { ObjectNotFoundError } from '../../src/storage/object-store.js';

const { Healthy, Degraded, Unavailable } = S3HealthState;

function monitor(overrides: { minRequests?: number } = {}) {
  const clock = { now: 1_000_000 };
  const changes: [number, number][] = [];
  const health = new S3HealthMonitor({
    windowMs: 60_000,
    latencyWarnMs: 500,
    latencyCritMs: 2000,
    errorRateWarn: 0.01,
    errorRateCrit: 0.05,
    minRequests: overrides.minRequests ?? 20,
    now: () => clock.now,
    onChange: (from, to) => changes.push([from, to]),
  });
  /** n requests of latencyMs each, the first `errors` of them failed. */
  const requests = (n: number, latencyMs: number, errors = 0) => {
    for (let i = 0; i < n; i++) {
      health.record('put', latencyMs, i < errors ? new Error('503 SlowDown') : undefined);
    }
  };
  const advance = (ms: number) => (clock.now += ms);
  return { health, requests, advance, changes };
}

test('error rate thresholds: <1% healthy, 1-5% degraded, >5% unavailable', () => {
  const cases: [errors: number, state: S3HealthState][] = [
    [0, Healthy],
    [1, Healthy], // 0.5%
    [2, Degraded], // exactly 1%
    [6, Degraded],
    [10, Degraded], // exactly 5%
    [11, Unavailable], // 5.5%
    [200, Unavailable],
  ];
  for (const [errors, expected] of cases) {
    const { health, requests } = monitor();
    requests(200, 10, errors);
    expect({ errors, state: health.state }).toEqual({ errors, state: expected });
  }
});

test('latency thresholds: <500 ms healthy, 500-2000 ms degraded, >2000 ms unavailable', () => {
  const cases: [latencyMs: number, state: S3HealthState][] = [
    [499, Healthy],
    [500, Degraded],
    [2000, Degraded],
    [2001, Unavailable],
  ];
  for (const [latencyMs, expected] of cases) {
    const { health, requests } = monitor();
    requests(50, latencyMs);
    expect({ latencyMs, state: health.state }).toEqual({ latencyMs, state: expected });
  }
  // The average counts, not single requests: one 10 s outlier among fast requests is fine.
  const { health, requests } = monitor();
  requests(99, 20);
  requests(1, 10_000);
  expect(health.evaluate()).toMatchObject({ state: Healthy, avgLatencyMs: 119.8 });
});

test('not-found answers are not failures; a sparse window is judged as if filled with successes', () => {
  const { health } = monitor();
  for (let i = 0; i < 50; i++) health.record('get', 5, new ObjectNotFoundError('k'));
  for (let i = 0; i < 50; i++) {
    health.record('get', 5, Object.assign(new Error('x'), { name: 'NoSuchKey' }));
  }
  expect(health.evaluate()).toMatchObject({ state: Healthy, errors: 0, requests: 100 });

  // One failure out of three: judged as 1 in 20 (5%), a warning, not a reason to refuse produce.
  const sparse = monitor();
  sparse.requests(3, 10, 1);
  expect(sparse.health.evaluate()).toMatchObject({ state: Degraded, errorRate: 1 / 3 });
  sparse.requests(100, 10);
  expect(sparse.health.state).toBe(Healthy);
  // Two failures out of two are already more than 5% of 20.
  const failing = monitor();
  failing.requests(2, 10, 2);
  expect(failing.health.state).toBe(Unavailable);
  // Few slow answers: 10 x 3 s weigh as 30 s over 20 requests, 1.5 s on average.
  const slow = monitor();
  slow.requests(10, 3000);
  expect(slow.health.state).toBe(Degraded);
  slow.requests(4, 3000);
  expect(slow.health.state).toBe(Unavailable);
});

test('adding successful requests never makes the verdict worse', () => {
  const { health, requests } = monitor();
  requests(12, 10, 9); // sparse, many failures
  let worst = health.state;
  for (let i = 0; i < 2000; i++) {
    requests(1, 10);
    const state = health.state;
    expect(state).toBeLessThanOrEqual(worst);
    worst = state;
  }
  expect(worst).toBe(Healthy);
});

test('the window slides: old failures leave it, and an empty window is healthy again', () => {
  const { health, requests, advance, changes } = monitor();
  requests(100, 10);
  advance(30_000);
  requests(30, 10, 30); // 30 / 130 = 23%
  expect(health.state).toBe(Unavailable);

  // The healthy requests from t=0 leave first: the rate only gets worse.
  advance(31_000);
  expect(health.evaluate()).toMatchObject({ state: Unavailable, requests: 30, errorRate: 1 });

  // After a second of outage, three fast successes in a row mean the store is back: its
  // failures are forgotten rather than refusing produce until they age out.
  requests(2, 10);
  expect(health.state).toBe(Unavailable);
  requests(1, 10);
  expect(health.evaluate()).toMatchObject({ state: Healthy, errors: 0, requests: 1 });
  requests(997, 10);

  // 30 s later the window still holds only successes.
  advance(30_000);
  expect(health.evaluate()).toMatchObject({ state: Healthy, errors: 0, requests: 998 });

  // Another failure burst, then silence: with nothing in the window the state recovers.
  requests(100, 3000, 100);
  expect(health.state).toBe(Unavailable);
  advance(59_000);
  expect(health.state).toBe(Unavailable);
  advance(2_000);
  expect(health.evaluate()).toMatchObject({ state: Healthy, requests: 0 });

  // Evaluated at every request, so a growing burst passes through Degraded on its way up.
  expect(changes.map(([, to]) => to)).toEqual([
    Degraded,
    Unavailable,
    Healthy,
    Degraded,
    Unavailable,
    Healthy,
  ]);
});

test('a degraded store with slow answers recovers as latency improves', () => {
  const { health, requests, advance } = monitor();
  requests(100, 800);
  expect(health.state).toBe(Degraded);
  advance(10_000);
  requests(100, 1500);
  expect(health.state).toBe(Degraded); // average 1150 ms
  advance(10_000);
  requests(200, 5000);
  expect(health.state).toBe(Unavailable); // average 3075 ms
  advance(45_000); // the 800 ms requests are gone: (100 * 1500 + 200 * 5000) / 300
  expect(health.evaluate().avgLatencyMs).toBeCloseTo(3833.3, 1);
  // Fast answers after a second of outage: the store is trusted again at once.
  requests(3, 20);
  expect(health.evaluate()).toMatchObject({ state: Healthy, requests: 1, avgLatencyMs: 20 });
});

test('a store that recovers within the same instant it failed is judged by the window alone', () => {
  const { health, requests } = monitor();
  requests(11, 10, 11);
  expect(health.state).toBe(Unavailable);
  // No second of outage has passed: successes only dilute (11 / 111 = 9.9%).
  requests(100, 10);
  expect(health.state).toBe(Unavailable);
});

test('state changes are logged: warn on degraded, error on unavailable, info on recovery', () => {
  const logged: { level: string; message: string }[] = [];
  const logger = {
    warn: (message: string) => logged.push({ level: 'warn', message }),
    error: (message: string) => logged.push({ level: 'error', message }),
    info: (message: string) => logged.push({ level: 'info', message }),
  };
  const clock = { now: 0 };
  const health = new S3HealthMonitor({
    windowMs: 10_000,
    latencyWarnMs: 500,
    latencyCritMs: 2000,
    errorRateWarn: 0.01,
    errorRateCrit: 0.05,
    now: () => clock.now,
    logger: logger as never,
  });
  for (let i = 0; i < 40; i++) health.record('put', 700);
  for (let i = 0; i < 40; i++) health.record('put', 10, new Error('refused'));
  clock.now += 11_000;
  health.evaluate();
  expect(logged).toEqual([
    { level: 'warn', message: 'object store degraded' },
    { level: 'error', message: 'object store unavailable' },
    { level: 'info', message: 'object store healthy' },
  ]);
});

test('probing runs while unhealthy, one probe at a time, and stops when healthy', async () => {
  const { health, requests, advance } = monitor();
  let probes = 0;
  let release: () => void = () => {};
  health.start(() => {
    probes++;
    return new Promise<void>((resolve) => (release = resolve));
  }, 10);
  try {
    await new Promise((r) => setTimeout(r, 50));
    expect(probes).toBe(0); // healthy and no errors: no probes
    requests(40, 10, 40);
    await new Promise((r) => setTimeout(r, 50));
    expect(probes).toBe(1); // the first probe has not finished
    release();
    await new Promise((r) => setTimeout(r, 50));
    expect(probes).toBeGreaterThanOrEqual(2);
    release();
    advance(61_000);
    await new Promise((r) => setTimeout(r, 30));
    const settled = probes;
    await new Promise((r) => setTimeout(r, 50));
    expect(probes).toBe(settled);
  } finally {
    health.stop();
    release();
  }
});

test('thresholds must be ordered', () => {
  const base = { windowMs: 1000, errorRateWarn: 0.01, errorRateCrit: 0.05 };
  expect(() => new S3HealthMonitor({ ...base, latencyWarnMs: 500, latencyCritMs: 500 })).toThrow(
    /latencyWarnMs/,
  );
  expect(
    () =>
      new S3HealthMonitor({
        windowMs: 1000,
        latencyWarnMs: 1,
        latencyCritMs: 2,
        errorRateWarn: 0.1,
        errorRateCrit: 0.05,
      }),
  ).toThrow(/errorRateWarn/);
});
