// Heavy-hitter counting with bounded memory. Exact while there are fewer distinct keys than
// `capacity`; past that, the rare keys are pruned in batches (a lossy-counting variant), so a
// spool of 500,000 random forged senders costs a few thousand map entries, not 500,000.
// Counts of surviving keys may be low by at most `error`; the top of a real flood is exact.

export interface TopEntry {
  key: string;
  count: number;
}

export class TopCounter {
  private counts = new Map<string, number>();
  /** Largest count ever pruned: an upper bound on how much any reported count may be missing. */
  error = 0;
  constructor(private readonly capacity = 10_000) {}

  add(key: string, n = 1): void {
    const c = this.counts.get(key);
    if (c !== undefined) {
      this.counts.set(key, c + n);
      return;
    }
    this.counts.set(key, n);
    if (this.counts.size > this.capacity * 2) this.prune();
  }

  private prune(): void {
    const sorted = [...this.counts.values()].sort((a, b) => b - a);
    const floor = sorted[this.capacity - 1];
    let kept = 0;
    for (const [k, c] of this.counts) {
      if (c < floor || (c === floor && kept >= this.capacity)) {
        this.counts.delete(k);
        if (c > this.error) this.error = c;
      } else kept++;
    }
  }

  /** The count kept for one key (0 when absent or pruned). */
  get(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** Set when the caller handed over only the largest of `distinct` exact counts. */
  private truncatedDistinct = 0;

  markTruncated(distinct: number): void {
    this.truncatedDistinct = distinct;
  }

  get approximate(): boolean {
    return this.error > 0;
  }

  get distinct(): number {
    return Math.max(this.counts.size, this.truncatedDistinct);
  }

  top(n: number): TopEntry[] {
    return [...this.counts]
      .map(([key, count]) => ({ key, count }))
      .sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1))
      .slice(0, n);
  }
}
