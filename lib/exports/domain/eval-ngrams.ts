/**
 * The n-gram table of one eval set: every word n-gram of its items as a 64-bit fingerprint, sorted,
 * each naming the item it first came from. Three flat planes of 32-bit words (fingerprint high,
 * fingerprint low, item), 12 bytes a gram: the table is stored as those bytes and read back
 * into the same arrays, never parsed, and a lookup is a binary search.
 */

/** Lower-cased words of letters and digits, Unicode compatibility forms folded: punctuation and spacing do not count. */
export function evalWords(text: string): string[] {
  return (
    text
      .normalize("NFKC")
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

/** Two independent 32-bit hashes of each word (FNV-1a and a multiplicative variant, both finalised). */
export function wordHashes(words: readonly string[]): { a: Uint32Array; b: Uint32Array } {
  const a = new Uint32Array(words.length);
  const b = new Uint32Array(words.length);
  for (let w = 0; w < words.length; w++) {
    const word = words[w] as string;
    let h1 = 0x811c9dc5;
    let h2 = 0x9e3779b9 ^ word.length;
    for (let i = 0; i < word.length; i++) {
      const c = word.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995);
      h2 ^= h2 >>> 15;
    }
    a[w] = fmix(h1) >>> 0;
    b[w] = fmix(h2 ^ 0x27d4eb2f) >>> 0;
  }
  return { a, b };
}

/** murmur3's 32-bit finaliser: every input bit reaches every output bit. */
function fmix(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h;
}

/** The 64-bit fingerprint (two words) of `length` words from `from`; never 0:0. */
export function gramFingerprint(
  hashes: { a: Uint32Array; b: Uint32Array },
  from: number,
  length: number,
  out: Uint32Array,
): void {
  let hi = 0x6a09e667 ^ length;
  let lo = 0xbb67ae85 ^ Math.imul(length, 0x9e3779b1);
  for (let i = from; i < from + length; i++) {
    hi = Math.imul(hi ^ (hashes.a[i] as number), 0xcc9e2d51);
    hi = (hi << 15) | (hi >>> 17);
    hi = Math.imul(hi, 0x1b873593) + 0xe6546b64;
    lo = Math.imul(lo ^ (hashes.b[i] as number), 0x85ebca6b);
    lo = (lo << 13) | (lo >>> 19);
    lo = Math.imul(lo, 0xc2b2ae35) + 0x561ccd1b;
  }
  const high = fmix(hi ^ lo) >>> 0;
  const low = fmix(lo ^ Math.imul(hi, 0x2545f491)) >>> 0;
  out[0] = high;
  out[1] = high === 0 && low === 0 ? 1 : low;
}

/** One eval set's sorted n-gram fingerprints and the items they name. */
export class EvalNgramTable {
  /**
   * Where each value of the fingerprints' top bits starts (a directory of about one entry per 8
   * grams, 0.5 bytes a gram): a lookup searches one bucket of a few grams instead of the whole
   * table, a cache miss or two rather than twenty.
   */
  private readonly directory: Uint32Array;
  private readonly shift: number;

  constructor(
    /** The word n-gram length. */
    readonly n: number,
    /** Item ids by reference. */
    readonly itemIds: readonly string[],
    /** Lengths of the items' texts shorter than n (and at least the minimum) indexed whole. */
    readonly shortLengths: readonly number[],
    readonly hi: Uint32Array,
    readonly lo: Uint32Array,
    readonly ref: Uint32Array,
  ) {
    const bits = Math.min(24, Math.max(1, Math.ceil(Math.log2(Math.max(2, hi.length))) - 3));
    this.shift = 32 - bits;
    this.directory = new Uint32Array((1 << bits) + 1);
    let at = 0;
    for (let bucket = 0; bucket < 1 << bits; bucket++) {
      this.directory[bucket] = at;
      while (at < hi.length && (hi[at] as number) >>> this.shift === bucket) at++;
    }
    this.directory[1 << bits] = hi.length;
  }

  get size(): number {
    return this.hi.length;
  }

  /** The item reference of this fingerprint, or -1. */
  lookup(high: number, low: number): number {
    const bucket = high >>> this.shift;
    let from = this.directory[bucket] as number;
    let to = this.directory[bucket + 1] as number;
    const end = to;
    while (from < to) {
      const mid = (from + to) >>> 1;
      const h = this.hi[mid] as number;
      const l = this.lo[mid] as number;
      if (h < high || (h === high && l < low)) from = mid + 1;
      else to = mid;
    }
    return from < end && this.hi[from] === high && this.lo[from] === low ? (this.ref[from] as number) : -1;
  }

  /** The three planes, one after another, as stored: 12 bytes a gram, little-endian. */
  gramBytes(): Uint8Array {
    const bytes = new Uint8Array(this.size * 12);
    const words = new Uint32Array(bytes.buffer);
    words.set(this.hi, 0);
    words.set(this.lo, this.size);
    words.set(this.ref, this.size * 2);
    return bytes;
  }

  /** A table read back from its stored bytes (aligned to 4, length 12 × grams); no copy. */
  static fromBytes(
    n: number,
    itemIds: readonly string[],
    shortLengths: readonly number[],
    bytes: Uint8Array,
  ): EvalNgramTable {
    if (bytes.byteLength % 12 !== 0 || bytes.byteOffset % 4 !== 0) {
      throw new Error(`an eval n-gram table is 12 bytes a gram, 4-aligned; got ${bytes.byteLength} bytes`);
    }
    const size = bytes.byteLength / 12;
    const plane = (k: number) => new Uint32Array(bytes.buffer, bytes.byteOffset + k * size * 4, size);
    return new EvalNgramTable(n, itemIds, shortLengths, plane(0), plane(1), plane(2));
  }
}

/** Items shorter than this are too generic to tell contamination from coincidence. */
export const MIN_ITEM_WORDS = 8;

/** Collects the n-grams of one set's items, then sorts them into a table. */
export class EvalNgramBuilder {
  private hi = new Uint32Array(1 << 12);
  private lo = new Uint32Array(1 << 12);
  private ref = new Uint32Array(1 << 12);
  private count = 0;
  private readonly ids: string[] = [];
  private readonly shorts = new Set<number>();
  private readonly fingerprint = new Uint32Array(2);
  /** Items with at least one text long enough to index. */
  indexedItems = 0;

  constructor(readonly n: number) {}

  get items(): number {
    return this.ids.length;
  }

  /** One item: each of its texts (prompt, answer) indexed apart, all naming the item. */
  addItem(id: string, texts: readonly string[]): void {
    const item = this.ids.length;
    this.ids.push(id);
    let indexed = false;
    for (const text of texts) {
      const words = evalWords(text);
      if (words.length < MIN_ITEM_WORDS) continue;
      indexed = true;
      const length = Math.min(this.n, words.length);
      if (length < this.n) this.shorts.add(length);
      const hashes = wordHashes(words);
      for (let from = 0; from + length <= words.length; from++) {
        gramFingerprint(hashes, from, length, this.fingerprint);
        this.push(this.fingerprint[0] as number, this.fingerprint[1] as number, item);
      }
    }
    if (indexed) this.indexedItems += 1;
  }

  private push(high: number, low: number, item: number): void {
    if (this.count === this.hi.length) {
      const grow = (from: Uint32Array) => {
        const to = new Uint32Array(from.length * 2);
        to.set(from);
        return to;
      };
      this.hi = grow(this.hi);
      this.lo = grow(this.lo);
      this.ref = grow(this.ref);
    }
    this.hi[this.count] = high;
    this.lo[this.count] = low;
    this.ref[this.count] = item;
    this.count += 1;
  }

  /** Sorted by fingerprint (a stable radix sort), each fingerprint kept once with its first item. */
  build(): EvalNgramTable {
    const n = this.count;
    let hi = this.hi.subarray(0, n);
    let lo = this.lo.subarray(0, n);
    let ref = this.ref.subarray(0, n);
    let hiOut = new Uint32Array(n);
    let loOut = new Uint32Array(n);
    let refOut = new Uint32Array(n);
    const counts = new Uint32Array(65_537);
    for (let pass = 0; pass < 4; pass++) {
      const plane = pass < 2 ? lo : hi;
      const shift = pass % 2 === 0 ? 0 : 16;
      counts.fill(0);
      for (let i = 0; i < n; i++) {
        const slot = (((plane[i] as number) >>> shift) & 0xffff) + 1;
        counts[slot] = (counts[slot] as number) + 1;
      }
      for (let d = 1; d < counts.length; d++) counts[d] = (counts[d] as number) + (counts[d - 1] as number);
      for (let i = 0; i < n; i++) {
        const digit = ((plane[i] as number) >>> shift) & 0xffff;
        const at = counts[digit] as number;
        counts[digit] = at + 1;
        hiOut[at] = hi[i] as number;
        loOut[at] = lo[i] as number;
        refOut[at] = ref[i] as number;
      }
      [hi, hiOut] = [hiOut, hi];
      [lo, loOut] = [loOut, lo];
      [ref, refOut] = [refOut, ref];
    }
    let kept = 0;
    for (let i = 0; i < n; i++) {
      if (kept > 0 && hi[i] === hi[kept - 1] && lo[i] === lo[kept - 1]) continue;
      hi[kept] = hi[i] as number;
      lo[kept] = lo[i] as number;
      ref[kept] = ref[i] as number;
      kept += 1;
    }
    const shortLengths = [...this.shorts].sort((a, b) => a - b);
    return new EvalNgramTable(
      this.n,
      this.ids,
      shortLengths,
      hi.slice(0, kept),
      lo.slice(0, kept),
      ref.slice(0, kept),
    );
  }
}
