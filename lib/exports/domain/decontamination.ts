import { createHash } from "node:crypto";
import { FingerprintSet } from "./fingerprint-set.ts";

/**
 * Decontamination against the eval sets a team measures on: a training record that shares a long
 * run of words with an eval item would inflate every score measured on that item. The published
 * convention (GPT-3's contamination study and its successors) is overlap of 13-word n-grams after
 * normalisation; the length is an option. An item shorter than n words (but at least
 * `MIN_ITEM_WORDS`) counts as one n-gram of its own length, so a short question copied whole is
 * still found, while a short phrase shared with a long item is not.
 */

export const DEFAULT_NGRAM = 13;
/** Items shorter than this are too generic to tell contamination from coincidence. */
export const MIN_ITEM_WORDS = 8;

export interface EvalItem {
  /** The registered eval set. */
  readonly set: string;
  /** The item's id within it. */
  readonly item: string;
  readonly text: string;
}

export interface EvalHit {
  readonly set: string;
  readonly item: string;
}

/** Lower-cased words of letters and digits, Unicode compatibility forms folded: punctuation and spacing do not count. */
export function evalWords(text: string): string[] {
  return (
    text
      .normalize("NFKC")
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  );
}

const gramKey = (words: readonly string[], from: number, length: number) =>
  createHash("sha256")
    .update(words.slice(from, from + length).join(" "))
    .digest();

/**
 * The n-grams of every registered item, as 64-bit fingerprints in flat typed arrays (24–48 bytes
 * each), each naming the item it came from.
 */
export class EvalIndex {
  private readonly grams = new FingerprintSet();
  private readonly items: EvalHit[] = [];
  /** Lengths of the items shorter than n that were indexed whole. */
  private readonly shortLengths = new Set<number>();
  private readonly sets = new Map<string, number>();

  constructor(readonly n = DEFAULT_NGRAM) {}

  add(item: EvalItem): void {
    const words = evalWords(item.text);
    this.sets.set(item.set, (this.sets.get(item.set) ?? 0) + 1);
    if (words.length < MIN_ITEM_WORDS) return;
    const ref = this.items.length;
    this.items.push({ set: item.set, item: item.item });
    const length = Math.min(this.n, words.length);
    if (length < this.n) this.shortLengths.add(length);
    for (let from = 0; from + length <= words.length; from += 1) {
      this.grams.add(gramKey(words, from, length), ref);
    }
  }

  /** The registered sets and how many items each holds. */
  get registered(): { name: string; items: number }[] {
    return [...this.sets].map(([name, items]) => ({ name, items }));
  }

  /** The first item `text` shares an n-gram with (or contains whole, if short), or `null`. */
  find(text: string): EvalHit | null {
    if (this.items.length === 0) return null;
    const words = evalWords(text);
    for (const length of [this.n, ...this.shortLengths]) {
      for (let from = 0; from + length <= words.length; from += 1) {
        const ref = this.grams.get(gramKey(words, from, length));
        if (ref !== undefined) return this.items[ref] ?? null;
      }
    }
    return null;
  }
}
