/**
 * The broker's budget for produced bytes held in memory between append and commit, shared by
 * every partition. While object storage is slow or down, flushes stall and appended batches pile
 * up; beyond the budget produce is refused with a retriable error instead of growing the heap
 * until the process dies.
 */
export class ProduceBuffer {
  private reserved = 0;
  /** Appends refused because the budget was spent. */
  refused = 0;

  constructor(readonly limitBytes: number) {}

  get usedBytes(): number {
    return this.reserved;
  }

  /**
   * Takes bytes from the budget, or returns false. An empty buffer admits any batch, so a batch
   * larger than the whole budget is still accepted once everything before it is committed.
   */
  tryReserve(bytes: number): boolean {
    if (this.reserved > 0 && this.reserved + bytes > this.limitBytes) {
      this.refused++;
      return false;
    }
    this.reserved += bytes;
    return true;
  }

  release(bytes: number): void {
    this.reserved = Math.max(0, this.reserved - bytes);
  }
}
