import { WorkQueue } from '../../src/runtime/work-queue.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('WorkQueue', () => {
  it('collapses repeated adds and never runs one key twice at once', async () => {
    const queue = new WorkQueue({ concurrency: 4 });
    const running = new Set<string>();
    const runs: string[] = [];
    let overlap = false;
    queue.start(async (key) => {
      if (running.has(key)) overlap = true;
      running.add(key);
      runs.push(key);
      await tick(30);
      running.delete(key);
    });
    for (let i = 0; i < 5; i++) queue.add('a');
    queue.add('b');
    await tick(5);
    // Adds while 'a' runs queue exactly one more run, after the current one.
    queue.add('a');
    queue.add('a');
    await tick(120);
    expect(overlap).toBe(false);
    expect(runs.filter((k) => k === 'a')).toHaveLength(2);
    expect(runs.filter((k) => k === 'b')).toHaveLength(1);
    await queue.shutdown();
  });

  it('retries a failing key with growing delays while other keys proceed', async () => {
    const queue = new WorkQueue({ retryInitialMs: 20, retryMaxMs: 1000 });
    const failures: number[] = [];
    const good: string[] = [];
    queue.start(async (key) => {
      if (key === 'bad') {
        failures.push(Date.now());
        throw new Error('boom');
      }
      good.push(key);
    });
    queue.add('bad');
    for (let i = 0; i < 20; i++) queue.add(`good-${i}`);
    await tick(400);
    expect(good).toHaveLength(20);
    expect(failures.length).toBeGreaterThanOrEqual(3);
    const gaps = failures.slice(1).map((t, i) => t - failures[i]);
    expect(gaps[gaps.length - 1]).toBeGreaterThan(gaps[0]);
    await queue.shutdown();
  });

  it('requeues after the delay a reconcile asks for, and shutdown waits for running work', async () => {
    const queue = new WorkQueue();
    let runs = 0;
    let finished = false;
    queue.start(async () => {
      runs++;
      if (runs === 2) {
        await tick(50);
        finished = true;
      }
      return { requeueAfterMs: 30 };
    });
    queue.add('k');
    await tick(45);
    expect(runs).toBe(2);
    await queue.shutdown();
    expect(finished).toBe(true);
    await tick(60);
    expect(runs).toBe(2);
  });

  it('bounds the overall rate with its token bucket', async () => {
    const queue = new WorkQueue({ qps: 50, burst: 5 });
    const times: number[] = [];
    queue.start(async () => void times.push(Date.now()));
    const start = Date.now();
    for (let i = 0; i < 15; i++) queue.add(`k${i}`);
    while (times.length < 15) await tick(10);
    // 5 at once, then 10 more at 50/s: about 200 ms.
    expect(times[14] - start).toBeGreaterThanOrEqual(150);
    await queue.shutdown();
  });
});
