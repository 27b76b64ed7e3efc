import {
  EvalNgramBuilder,
  type EvalNgramTable,
  evalWords,
  gramFingerprint,
  MIN_ITEM_WORDS,
  wordHashes,
} from "./eval-ngrams.ts";

/**
 * Decontamination against the eval sets a team measures on: a training record that shares a long
 * run of words with an eval item would inflate every score measured on that item. The published
 * convention (GPT-3's contamination study and its successors) is overlap of 13-word n-grams after
 * normalisation; the length is an option. An item shorter than n words (but at least
 * `MIN_ITEM_WORDS`) counts as one n-gram of its own length, so a short question copied whole is
 * still found, while a short phrase shared with a long item is not.
 */

export const DEFAULT_NGRAM = 13;
export { evalWords, MIN_ITEM_WORDS };

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

/** A registered set as the manifest lists it. */
export interface EvalSetSummary {
  readonly name: string;
  readonly items: number;
  /** The set's version (a hash of its objects' ETags), when it was read from the bucket. */
  readonly version?: string;
}

interface IndexedSet {
  readonly summary: EvalSetSummary;
  readonly table: EvalNgramTable;
}

/**
 * Every registered set's n-gram table, checked together: a text's n-grams are fingerprinted once
 * and looked up in each table (a binary search over 12 bytes a gram). Sets come as stored tables
 * (`addTable`) or item by item (`add`, sorted into a table on the first lookup).
 */
export class EvalIndex {
  private readonly sets: IndexedSet[] = [];
  private readonly pending = new Map<string, { builder: EvalNgramBuilder; texts: Map<string, string[]> }>();
  private lengths: number[] = [];

  constructor(readonly n = DEFAULT_NGRAM) {}

  /** An item of a set (its texts added one by one under the same item id are one item). */
  add(item: EvalItem): void {
    let set = this.pending.get(item.set);
    if (!set) {
      set = { builder: new EvalNgramBuilder(this.n), texts: new Map() };
      this.pending.set(item.set, set);
    }
    const texts = set.texts.get(item.item) ?? [];
    texts.push(item.text);
    set.texts.set(item.item, texts);
  }

  /** A set's stored table, built for this index's n. */
  addTable(summary: EvalSetSummary, table: EvalNgramTable): void {
    if (table.n !== this.n)
      throw new Error(`eval set ${summary.name}: a ${table.n}-gram table in a ${this.n}-gram index`);
    this.sets.push({ summary, table });
    this.lengths = [...new Set([this.n, ...this.sets.flatMap((set) => set.table.shortLengths)])];
  }

  private seal(): void {
    if (this.pending.size === 0) return;
    const pending = [...this.pending];
    this.pending.clear();
    for (const [name, { builder, texts }] of pending) {
      for (const [item, itemTexts] of texts) builder.addItem(item, itemTexts);
      this.addTable({ name, items: builder.items }, builder.build());
    }
  }

  /** The registered sets and how many items each holds. */
  get registered(): EvalSetSummary[] {
    this.seal();
    return this.sets.map((set) => set.summary);
  }

  /** The first item `text` shares an n-gram with (or contains whole, if short), or `null`. */
  find(text: string): EvalHit | null {
    this.seal();
    if (this.sets.length === 0) return null;
    const words = evalWords(text);
    if (words.length < MIN_ITEM_WORDS) return null;
    const hashes = wordHashes(words);
    const fingerprint = new Uint32Array(2);
    for (const length of this.lengths) {
      for (let from = 0; from + length <= words.length; from += 1) {
        gramFingerprint(hashes, from, length, fingerprint);
        for (const { summary, table } of this.sets) {
          const ref = table.lookup(fingerprint[0] as number, fingerprint[1] as number);
          if (ref >= 0) return { set: summary.name, item: table.itemIds[ref] as string };
        }
      }
    }
    return null;
  }
}
