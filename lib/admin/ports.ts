import type { CounterDelta } from "../common/domain/stats.ts";

/**
 * The ports of this capability: what its use cases need from the outside world, each implemented
 * by an adapter (DynamoDB) and by an in-memory fake in the tests.
 */

/** One page of a scan: the candidates found, projected, and how many items were read for them. */
export interface CandidatePage {
  readonly candidates: readonly Readonly<Record<string, unknown>>[];
  /** Items the page read, candidates or not. */
  readonly scanned: number;
}

export interface CandidateScanner {
  /**
   * Reads segment `segment` (0-based) of `totalSegments` of every stored candidate, page by page,
   * each candidate holding only `attributes`. The segments together hold every candidate once.
   */
  scanSegment(
    segment: number,
    totalSegments: number,
    attributes: readonly string[],
  ): AsyncIterable<CandidatePage>;
}

/** The value of one counter in each shard, by shard number; `undefined` where a shard has none. */
export type ShardValues = readonly (number | undefined)[];

export interface CounterStore {
  /** Every counter summed over its shards (consistent reads). */
  read(): Promise<CounterDelta>;
  /** The value of counter `name` in each shard (consistent reads). */
  readShards(name: string): Promise<ShardValues>;
  /**
   * Adds `difference` to counter `name`, only while every shard still holds what `seen` says;
   * `changed` (and nothing written) when one does not.
   */
  addIfUnchanged(name: string, difference: number, seen: ShardValues): Promise<"added" | "changed">;
}
