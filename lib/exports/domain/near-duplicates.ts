import { evalWords } from "./decontamination.ts";
import type { StateReader, StateWriter } from "./export-state.ts";

/**
 * Near-duplicates: records whose words overlap almost entirely without being identical (a
 * reworded question, a correction with one word changed). Each record's word 3-grams are reduced
 * to a MinHash signature of `HASHES` values, whose share of equal positions estimates the Jaccard
 * similarity of two records' 3-gram sets; locality-sensitive hashing (`BANDS` bands of `ROWS`
 * values) finds the earlier records worth comparing without comparing every pair. A record is a
 * near-duplicate when its estimated similarity to a record already exported reaches the threshold.
 *
 * Only the lowest 8 bits of each minimum are kept (b-bit MinHash, Li and König 2010): two
 * unrelated values agree on them by chance once in 256, which the estimate corrects for, and a
 * band's four values make one 32-bit word. So a signature is 16 words (64 bytes), and a band
 * table holds nothing but record numbers — a probe compares the band word stored in the
 * record's signature. Memory per exported record: 64 bytes of signature, 4 of value and 16 table
 * slots of 4 bytes at most three quarters full, about 150–200 bytes (a million records: ~170 MB).
 */

export const HASHES = 64;
export const BANDS = 16;
const ROWS = HASHES / BANDS;
const SHINGLE = 3;
/** The chance that two unrelated minimums agree on their lowest 8 bits. */
const CHANCE = 1 / 256;
/** Records per block of signatures: blocks are never copied as the index grows. */
const BLOCK = 1 << 16;

/** A record's signature: `BANDS` words, each the lowest bytes of one band's `ROWS` minimums. */
export type Signature = Uint32Array;

/** 32-bit FNV-1a of a string. */
function fnv(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i += 1) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** A 32-bit mix (murmur3's finaliser) of `value` with seed `seed`: one of the HASHES functions. */
function mix(value: number, seed: number): number {
  let h = (value ^ Math.imul(seed + 1, 0x9e3779b1)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Packs the lowest byte of each of `minimums`' values, `ROWS` to a word, band by band. */
export function packSignature(minimums: ArrayLike<number>): Signature {
  const packed = new Uint32Array(BANDS);
  for (let band = 0; band < BANDS; band += 1) {
    let word = 0;
    for (let r = 0; r < ROWS; r += 1) word = (word << 8) | ((minimums[band * ROWS + r] as number) & 0xff);
    packed[band] = word >>> 0;
  }
  return packed;
}

/** The `HASHES` MinHash minimums of a text's word 3-grams (its words, if it has fewer than three). */
export function minimums(text: string): Uint32Array {
  const words = evalWords(text);
  const shingles = new Set<number>();
  if (words.length < SHINGLE) shingles.add(fnv(words.join(" ")));
  for (let i = 0; i + SHINGLE <= words.length; i += 1)
    shingles.add(fnv(words.slice(i, i + SHINGLE).join(" ")));
  const minimums = new Uint32Array(HASHES).fill(0xffffffff);
  for (const shingle of shingles) {
    for (let k = 0; k < HASHES; k += 1) {
      const h = mix(shingle, k);
      if (h < (minimums[k] as number)) minimums[k] = h;
    }
  }
  return minimums;
}

/** The packed MinHash signature of a text. */
export const signature = (text: string): Signature => packSignature(minimums(text));

/** Equal bytes of two signatures' band words at `a[aAt…]` and `b[bAt…]`. */
function equalBytes(a: Uint32Array, aAt: number, b: Uint32Array, bAt: number): number {
  let equal = 0;
  for (let band = 0; band < BANDS; band += 1) {
    const x = (a[aAt + band] as number) ^ (b[bAt + band] as number);
    if ((x & 0xff) === 0) equal += 1;
    if ((x & 0xff00) === 0) equal += 1;
    if ((x & 0xff0000) === 0) equal += 1;
    if ((x & 0xff000000) === 0) equal += 1;
  }
  return equal;
}

/** The Jaccard similarity estimated from the share of equal bytes, less what chance explains. */
const estimate = (equal: number) => Math.max(0, (equal / HASHES - CHANCE) / (1 - CHANCE));

/** Two signatures' estimate of their texts' Jaccard similarity. */
export function similarity(a: Signature, b: Signature): number {
  return estimate(equalBytes(a, 0, b, 0));
}

/** A band word's home slot in a table of `2^bits` slots. */
const home = (word: number, band: number, bits: number) =>
  Math.imul(word ^ Math.imul(band + 1, 0x9e3779b1), 0x85ebca6b) >>> (32 - bits);

export interface NearMatch {
  /** The value stored with the record it resembles (its dataset line). */
  readonly value: number;
  readonly similarity: number;
}

/** What an export's checkpoint header keeps of the index (its tables are sections of the state). */
export interface NearDuplicateMemory {
  readonly records: number;
}

/** The records exported so far, by signature; finds the first that a new record nearly repeats. */
export class NearDuplicateIndex {
  /** Signatures, `BLOCK` records to a block of `BLOCK × BANDS` words. */
  private blocks: Uint32Array[] = [];
  private values: Uint32Array[] = [];
  private count = 0;
  /** Per band: open addressing by band word, each slot a record number + 1 (0 is empty). */
  private readonly tables = Array.from({ length: BANDS }, () => new Uint32Array(1 << 12));
  private readonly bits = Array.from({ length: BANDS }, () => 12);
  private readonly used = new Array<number>(BANDS).fill(0);

  constructor(readonly threshold: number) {}

  get size(): number {
    return this.count;
  }

  /** The most similar record at or above the threshold among those sharing a band, or `null`. */
  find(sig: Signature): NearMatch | null {
    let best: NearMatch | null = null;
    for (let band = 0; band < BANDS; band += 1) {
      const ref = this.lookup(band, sig[band] as number);
      if (ref < 0) continue;
      const block = this.blocks[ref >>> 16] as Uint32Array;
      const score = estimate(equalBytes(sig, 0, block, (ref & (BLOCK - 1)) * BANDS));
      if (score >= this.threshold && (!best || score > best.similarity)) {
        best = {
          value: (this.values[ref >>> 16] as Uint32Array)[ref & (BLOCK - 1)] as number,
          similarity: score,
        };
      }
    }
    return best;
  }

  add(sig: Signature, value: number): void {
    const ref = this.count;
    const at = ref & (BLOCK - 1);
    if (at === 0) {
      this.blocks.push(new Uint32Array(BLOCK * BANDS));
      this.values.push(new Uint32Array(BLOCK));
    }
    (this.blocks[ref >>> 16] as Uint32Array).set(sig, at * BANDS);
    (this.values[ref >>> 16] as Uint32Array)[at] = value;
    this.count += 1;
    this.index(ref);
  }

  /** Writes the signatures and values into an export's checkpoint; the band tables are rebuilt on restore. */
  save(state: StateWriter, prefix: string): NearDuplicateMemory {
    this.blocks.forEach((block, i) => {
      const records = Math.min(BLOCK, this.count - i * BLOCK);
      state
        .u32(`${prefix}.signatures.${i}`, block.subarray(0, records * BANDS))
        .u32(`${prefix}.values.${i}`, (this.values[i] as Uint32Array).subarray(0, records));
    });
    return { records: this.count };
  }

  /**
   * An index holding exactly the records `save` wrote, added again in their order. Full blocks
   * are the loaded state's own words (views, no copy); the last one is copied into a whole block
   * so that it can fill.
   */
  static restore(threshold: number, state: StateReader, prefix: string, memory: NearDuplicateMemory) {
    const index = new NearDuplicateIndex(threshold);
    const blocks = Math.ceil(memory.records / BLOCK);
    const whole = <T extends Uint32Array>(words: T, length: number): Uint32Array => {
      if (words.length === length) return words;
      const copy = new Uint32Array(length);
      copy.set(words);
      return copy;
    };
    for (let i = 0; i < blocks; i += 1) {
      index.blocks.push(whole(state.u32(`${prefix}.signatures.${i}`), BLOCK * BANDS));
      index.values.push(whole(state.u32(`${prefix}.values.${i}`), BLOCK));
    }
    index.count = memory.records;
    for (let ref = 0; ref < memory.records; ref += 1) index.index(ref);
    return index;
  }

  /**
   * An index from a checkpoint saved before signatures were packed: one section of 64 full
   * minimums a record (their lowest bytes are what a packed signature keeps) and one of values.
   */
  static restoreUnpacked(threshold: number, minimums: Uint32Array, values: Uint32Array) {
    const index = new NearDuplicateIndex(threshold);
    for (let ref = 0; ref < values.length; ref += 1) {
      index.add(packSignature(minimums.subarray(ref * HASHES, (ref + 1) * HASHES)), values[ref] as number);
    }
    return index;
  }

  /** Record `ref`'s band word of `band`. */
  private word(ref: number, band: number): number {
    return (this.blocks[ref >>> 16] as Uint32Array)[(ref & (BLOCK - 1)) * BANDS + band] as number;
  }

  /** The first record whose band `band` is `word`, or -1. */
  private lookup(band: number, word: number): number {
    const table = this.tables[band] as Uint32Array;
    const bits = this.bits[band] as number;
    const mask = table.length - 1;
    for (let slot = home(word, band, bits); ; slot = (slot + 1) & mask) {
      const entry = table[slot] as number;
      if (entry === 0) return -1;
      if (this.word(entry - 1, band) === word) return entry - 1;
    }
  }

  /** Enters record `ref` in each band table whose word no earlier record has (the first one stays). */
  private index(ref: number): void {
    for (let band = 0; band < BANDS; band += 1) {
      if (this.place(band, ref)) {
        this.used[band] = (this.used[band] as number) + 1;
        // At most three quarters full.
        if ((this.used[band] as number) * 4 > (this.tables[band] as Uint32Array).length * 3) this.grow(band);
      }
    }
  }

  /** Puts `ref` in band `band`'s table unless its word is there already; returns whether it did. */
  private place(band: number, ref: number): boolean {
    const table = this.tables[band] as Uint32Array;
    const word = this.word(ref, band);
    const mask = table.length - 1;
    for (let slot = home(word, band, this.bits[band] as number); ; slot = (slot + 1) & mask) {
      const entry = table[slot] as number;
      if (entry === 0) {
        table[slot] = ref + 1;
        return true;
      }
      if (this.word(entry - 1, band) === word) return false;
    }
  }

  private grow(band: number): void {
    const old = this.tables[band] as Uint32Array;
    this.bits[band] = (this.bits[band] as number) + 1;
    this.tables[band] = new Uint32Array(old.length * 2);
    for (const entry of old) if (entry !== 0) this.place(band, entry - 1);
  }
}
