import { evalWords } from "./decontamination.ts";
import { FingerprintSet } from "./fingerprint-set.ts";

/**
 * Near-duplicates: records whose words overlap almost entirely without being identical (a
 * reworded question, a correction with one word changed). Each record's word 3-grams are reduced
 * to a MinHash signature of `HASHES` values, whose share of equal positions estimates the Jaccard
 * similarity of two records' 3-gram sets; locality-sensitive hashing (`BANDS` bands of `ROWS`
 * values) finds the earlier records worth comparing without comparing every pair. A record is a
 * near-duplicate when its estimated similarity to a record already exported reaches the threshold.
 *
 * Memory per exported record: its signature (256 bytes) and one bucket entry per band (24–48 bytes
 * each), about 0.7–1 KB — which is why the check is asked for, not on by default.
 */

export const HASHES = 64;
export const BANDS = 16;
const ROWS = HASHES / BANDS;
const SHINGLE = 3;

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

/** The MinHash signature of a text's word 3-grams (its words, if it has fewer than three). */
export function signature(text: string): Uint32Array {
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

/** The share of positions two signatures agree on: an estimate of the sets' Jaccard similarity. */
export function similarity(a: Uint32Array, b: Uint32Array): number {
  let equal = 0;
  for (let k = 0; k < HASHES; k += 1) if (a[k] === b[k]) equal += 1;
  return equal / HASHES;
}

const bandKey = (sig: Uint32Array, band: number) => {
  const key = new Uint8Array(8);
  const view = new DataView(key.buffer);
  let high = mix(band, 0x5bd1e995);
  let low = band;
  for (let r = 0; r < ROWS; r += 1) {
    const value = sig[band * ROWS + r] as number;
    high = mix(high ^ value, r);
    low = mix(low ^ value, r + ROWS);
  }
  view.setUint32(0, high);
  view.setUint32(4, low);
  return key;
};

export interface NearMatch {
  /** The value stored with the record it resembles (its dataset line). */
  readonly value: number;
  readonly similarity: number;
}

/** The records exported so far, by signature; finds the first that a new record nearly repeats. */
export class NearDuplicateIndex {
  private signatures = new Uint32Array(HASHES * 1024);
  private values: number[] = [];
  private readonly bands = Array.from({ length: BANDS }, () => new FingerprintSet());

  constructor(readonly threshold: number) {}

  /** The most similar record at or above the threshold among those sharing a band, or `null`. */
  find(sig: Uint32Array): NearMatch | null {
    let best: NearMatch | null = null;
    for (let band = 0; band < BANDS; band += 1) {
      const ref = this.bands[band]?.get(bandKey(sig, band));
      if (ref === undefined) continue;
      const other = this.signatures.subarray(ref * HASHES, (ref + 1) * HASHES);
      const score = similarity(sig, other);
      if (score >= this.threshold && (!best || score > best.similarity)) {
        best = { value: this.values[ref] as number, similarity: score };
      }
    }
    return best;
  }

  /** The signatures, their values and the band tables, for an export's checkpoint. */
  save() {
    return {
      signatures: this.signatures.subarray(0, this.values.length * HASHES),
      values: Uint32Array.from(this.values),
      bands: this.bands.map((band) => band.save()),
    };
  }

  /** An index holding exactly what `save` returned. */
  static restore(threshold: number, saved: ReturnType<NearDuplicateIndex["save"]>): NearDuplicateIndex {
    const index = new NearDuplicateIndex(threshold);
    // Room for a batch or two more; it doubles as it fills, as it always does.
    const room = Math.max(1024, saved.values.length + 1024);
    index.signatures = new Uint32Array(HASHES * room);
    index.signatures.set(saved.signatures);
    index.values = Array.from(saved.values);
    saved.bands.forEach((band, i) => {
      index.bands[i] = FingerprintSet.restore(band);
    });
    return index;
  }

  add(sig: Uint32Array, value: number): void {
    const ref = this.values.length;
    if ((ref + 1) * HASHES > this.signatures.length) {
      const grown = new Uint32Array(this.signatures.length * 2);
      grown.set(this.signatures);
      this.signatures = grown;
    }
    this.signatures.set(sig, ref * HASHES);
    this.values.push(value);
    for (let band = 0; band < BANDS; band += 1) this.bands[band]?.add(bandKey(sig, band), ref);
  }
}
