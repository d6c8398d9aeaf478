// Bounded memory of recent keys (queue IDs between their log lines, the client of a queue ID until
// its message is counted): at most `cap` entries, and at least the `cap / 2` most recently set.
//
// Two generations of Maps: new keys go into the young one; when it holds cap / 2 it becomes the old
// one and the previous old one is dropped whole. Every operation is O(1). Evicting the oldest entry
// of one Map instead (`m.delete(m.keys().next().value)`, what each parser did before) is O(deleted
// entries) per call, since a Map's iterator walks over the holes its deletions leave until the table
// is rebuilt: 1,000,000 queue IDs through a 200,000-entry map took 160 s that way, 0.2 s this way.

export class RecentMap<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  private readonly half: number;

  constructor(cap: number) {
    this.half = Math.max(1, Math.ceil(cap / 2));
  }

  /** Set k (it becomes the most recent). */
  set(k: string, v: V): void {
    if (this.old.size > 0) this.old.delete(k);
    this.young.set(k, v);
    if (this.young.size >= this.half) {
      this.old = this.young;
      this.young = new Map();
    }
  }

  get(k: string): V | undefined {
    const v = this.young.get(k);
    return v !== undefined ? v : this.old.get(k);
  }

  has(k: string): boolean {
    return this.young.has(k) || this.old.has(k);
  }

  /** Forget k; true when it was there. */
  delete(k: string): boolean {
    const a = this.young.delete(k);
    const b = this.old.delete(k);
    return a || b;
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}

/** A RecentMap of keys only. */
export class Recent {
  private readonly m: RecentMap<true>;
  constructor(cap: number) {
    this.m = new RecentMap<true>(cap);
  }
  add(k: string): void {
    this.m.set(k, true);
  }
  has(k: string): boolean {
    return this.m.has(k);
  }
  /** Forget k; true when it was there. */
  take(k: string): boolean {
    return this.m.delete(k);
  }
  get size(): number {
    return this.m.size;
  }
}

/**
 * One canonical string per distinct value (a sender, a recipient, a client): the value as read
 * from a line is looked up once, and the counters it goes into then hash a string whose hash V8
 * has already cached, instead of each hashing a new copy (and decoding and lower-casing it again).
 * `fn` makes the canonical form from the raw text. Bounded: emptied when it holds `cap` values
 * (canonical strings are a speed-up only; counting compares by value).
 */
export class Interner {
  private m = new Map<string, string>();
  constructor(
    private readonly fn: (raw: string) => string,
    private readonly cap = 65_536,
  ) {}
  get(raw: string): string {
    let v = this.m.get(raw);
    if (v === undefined) {
      v = this.fn(raw);
      if (this.m.size >= this.cap) this.m.clear();
      this.m.set(raw, v);
    }
    return v;
  }
}

/** Canonical "a<sep>b" strings for pairs of canonical strings (the pair counters' keys), bounded like Interner. */
export class PairInterner {
  private m = new Map<string, Map<string, string>>();
  private n = 0;
  constructor(
    private readonly sep: string,
    private readonly cap = 131_072,
  ) {}
  get(a: string, b: string): string {
    const known = this.m.get(a)?.get(b);
    if (known !== undefined) return known;
    if (this.n >= this.cap) {
      this.m.clear();
      this.n = 0;
    }
    let inner = this.m.get(a);
    if (inner === undefined) {
      inner = new Map();
      this.m.set(a, inner);
    }
    const v = a + this.sep + b;
    inner.set(b, v);
    this.n++;
    return v;
  }
}
