// Counts, errors and summed values over the last windowMs, in fixed time buckets: memory stays
// constant however many events arrive, and an event leaves the window at most one bucket late.

export interface WindowTotals {
  count: number;
  errors: number;
  sum: number;
}

interface Bucket extends WindowTotals {
  /** Bucket number: floor(time / bucketMs). */
  slot: number;
}

const BUCKETS = 60;

export class SlidingWindow {
  private readonly bucketMs: number;
  private readonly buckets: Bucket[] = [];

  constructor(
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {
    if (!(windowMs > 0)) throw new Error('windowMs must be positive');
    this.bucketMs = Math.max(1, windowMs / BUCKETS);
  }

  add(value: number, error = false): void {
    const slot = Math.floor(this.now() / this.bucketMs);
    let last = this.buckets[this.buckets.length - 1];
    if (!last || last.slot !== slot) {
      last = { slot, count: 0, errors: 0, sum: 0 };
      this.buckets.push(last);
      this.prune(slot);
    }
    last.count++;
    last.sum += value;
    if (error) last.errors++;
  }

  totals(): WindowTotals {
    this.prune(Math.floor(this.now() / this.bucketMs));
    const totals: WindowTotals = { count: 0, errors: 0, sum: 0 };
    for (const b of this.buckets) {
      totals.count += b.count;
      totals.errors += b.errors;
      totals.sum += b.sum;
    }
    return totals;
  }

  /** Forgets everything recorded so far. */
  clear(): void {
    this.buckets.length = 0;
  }

  /** Events per second over the window. */
  rate(): number {
    return this.totals().count / (this.windowMs / 1000);
  }

  private prune(slot: number): void {
    const oldest = slot - Math.ceil(this.windowMs / this.bucketMs) + 1;
    let drop = 0;
    while (drop < this.buckets.length && this.buckets[drop].slot < oldest) drop++;
    if (drop > 0) this.buckets.splice(0, drop);
  }
}
