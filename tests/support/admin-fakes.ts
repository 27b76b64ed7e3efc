import type { CandidatePage, CandidateScanner, CounterStore, ShardValues } from "../../lib/admin/ports.ts";
import { type CounterDelta, mergeDeltas } from "../../lib/common/domain/stats.ts";

const SHARDS = 8;

/** The table's candidates, handed out by segment (index modulo the segment count), a few per page. */
export class MemoryCandidates implements CandidateScanner {
  readonly calls: { segment: number; totalSegments: number; attributes: readonly string[] }[] = [];
  /** Runs after each page is handed out: a live write, a clock moving. */
  afterPage: (pages: number) => void = () => {};
  private pages = 0;

  constructor(
    readonly items: Record<string, unknown>[],
    private readonly pageSize = 3,
    /** Items of other kinds the scan reads past (history events, runs, counters). */
    private readonly others = 0,
  ) {}

  async *scanSegment(segment: number, totalSegments: number, attributes: readonly string[]) {
    this.calls.push({ segment, totalSegments, attributes });
    const mine = this.items.filter((_, i) => i % totalSegments === segment);
    const othersHere = segment === 0 ? this.others : 0;
    for (let start = 0; start === 0 || start < mine.length; start += this.pageSize) {
      const candidates = mine
        .slice(start, start + this.pageSize)
        .map((item) => Object.fromEntries(attributes.filter((a) => a in item).map((a) => [a, item[a]])));
      const page: CandidatePage = {
        candidates,
        scanned: candidates.length + (start === 0 ? othersHere : 0),
      };
      yield page;
      this.afterPage(++this.pages);
    }
  }
}

/** Counter shards in memory, with the conditional add the table adapter makes. */
export class MemoryCounters implements CounterStore {
  readonly shards: Record<string, number>[] = Array.from({ length: SHARDS }, () => ({}));
  reads = 0;
  /** Runs before each conditional add, given the attempt number: a concurrent writer. */
  beforeAdd: (attempt: number) => void = () => {};
  private adds = 0;

  constructor(initial: CounterDelta = {}) {
    Object.entries(initial).forEach(([name, value], i) => {
      this.add(i % SHARDS, name, value);
    });
  }

  add(shard: number, name: string, value: number) {
    const counters = this.shards[shard] as Record<string, number>;
    counters[name] = (counters[name] ?? 0) + value;
  }

  sums(): CounterDelta {
    return mergeDeltas(this.shards);
  }

  async read() {
    this.reads += 1;
    return this.sums();
  }

  async readShards(name: string): Promise<ShardValues> {
    return this.shards.map((shard) => shard[name]);
  }

  async addIfUnchanged(name: string, difference: number, seen: ShardValues) {
    this.beforeAdd(this.adds++);
    if (this.shards.some((shard, i) => shard[name] !== seen[i])) return "changed" as const;
    this.add(0, name, difference);
    return "added" as const;
  }
}
