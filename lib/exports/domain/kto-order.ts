import { createHash } from "node:crypto";
import type { ChatTurn, ExportLine } from "./export-formats.ts";

/**
 * The order of a `trl-kto` dataset's lines.
 *
 * TRL's KTOTrainer estimates its KL term from mismatched pairs that it bakes into the dataset in
 * file order: it cuts the lines into chunks of `per_device_train_batch_size` and gives each line
 * the completion of the line before it, the first line of a chunk the completion of the chunk's
 * last (`_get_kl_dataset`, "a +1 offset to the order of completions"). A candidate's two lines
 * written side by side would make every such pair a prompt with its own completion, and bias the
 * estimate. So the lines are laid out in blocks of candidates:
 *
 *   line 2i of a block     — candidate i's undesirable line (the model's answer, B)
 *   line 2i + 1 of a block — candidate (i + r) mod m's desirable line (the correction, C)
 *
 * Labels alternate (every batch holds both), a candidate's undesirable line stays at dataset line
 * 2k + 1 as before, and with r = m/2 a candidate's two lines are m − 1 or m + 1 lines apart, which no
 * chunk of up to `KTO_CHECKED_BATCH_SIZE` lines pairs. Different candidates can share a prompt
 * too (two models asked the same question): each block tries up to `KTO_ROTATIONS_TRIED` rotations
 * in a fixed order and keeps the first under which no pair TRL would make — adjacent lines, or a chunk's first and last for
 * every batch size from 2 to `KTO_CHECKED_BATCH_SIZE` — shares a prompt, counting what no
 * rotation avoids. Memory holds at most two blocks.
 */

/** Candidates laid out together. */
export const KTO_BLOCK = 64;
/** Per-device batch sizes (2 to this) whose KL pairs the order is checked against. */
export const KTO_CHECKED_BATCH_SIZE = 64;
/** Rotations a block tries at most, so a prompt asked many times costs bounded time. */
export const KTO_ROTATIONS_TRIED = 16;

export interface KtoRecord {
  readonly candidateId: string;
  readonly prompt: readonly ChatTurn[];
  /** The undesirable line, then the desirable one, as the format builds them. */
  readonly lines: readonly ExportLine[];
}

export interface OrderedLine extends ExportLine {
  readonly candidateId: string;
}

interface Pending {
  readonly key: string;
  readonly undesirable: OrderedLine;
  readonly desirable: OrderedLine;
}

/** A KTO order as an export's checkpoint keeps it. */
export interface KtoMemory {
  readonly pending: readonly Pending[];
  readonly history: readonly string[];
  readonly written: number;
  readonly shared: number;
}

/** Lays out `trl-kto` lines as they arrive; `push` and `finish` return the lines to write next. */
export class KtoOrder {
  private pending: Pending[] = [];
  /** Prompt keys of the last lines written, enough to check pairs reaching back into them. */
  private history: string[] = [];
  private written = 0;
  private sharedPairs = 0;

  constructor(
    private readonly block = KTO_BLOCK,
    private readonly checkedBatchSize = KTO_CHECKED_BATCH_SIZE,
  ) {}

  /** KL pairs (at some checked batch size) that share a prompt: 0 unless no layout avoided one. */
  get collisions(): number {
    return this.sharedPairs;
  }

  /** The blocks waiting and the lines just written, for an export's checkpoint (plain JSON). */
  save(): KtoMemory {
    return { pending: this.pending, history: this.history, written: this.written, shared: this.sharedPairs };
  }

  /** Lays out on from a saved order. */
  static restore(saved: KtoMemory): KtoOrder {
    const order = new KtoOrder();
    order.pending = [...saved.pending];
    order.history = [...saved.history];
    order.written = saved.written;
    order.sharedPairs = saved.shared;
    return order;
  }

  push(record: KtoRecord): OrderedLine[] {
    const [undesirable, desirable] = record.lines;
    if (!undesirable || !desirable) throw new Error("a KTO record has an undesirable and a desirable line");
    const at = (line: ExportLine) => ({ ...line, candidateId: record.candidateId });
    this.pending.push({
      key: promptKey(record.prompt),
      undesirable: at(undesirable),
      desirable: at(desirable),
    });
    // Two blocks' worth waiting: lay out the first, so the last block is never smaller than one.
    return this.pending.length >= 2 * this.block ? this.layOut(this.block, false) : [];
  }

  finish(): OrderedLine[] {
    return this.pending.length > 0 ? this.layOut(this.pending.length, true) : [];
  }

  private layOut(size: number, last: boolean): OrderedLine[] {
    const records = this.pending.slice(0, size);
    this.pending = this.pending.slice(size);
    const half = Math.floor(size / 2);
    let best = { rotation: 0, shared: Number.POSITIVE_INFINITY };
    for (let step = 0; step < Math.min(size, KTO_ROTATIONS_TRIED); step += 1) {
      const rotation = (half + step) % size;
      const shared = this.sharedIn(records, rotation, last, best.shared);
      if (shared < best.shared) best = { rotation, shared };
      if (shared === 0) break;
    }
    this.sharedPairs += best.shared;
    const lines = arrange(records, best.rotation);
    this.history = [...this.history, ...lines.map(({ key }) => key)].slice(-this.checkedBatchSize);
    this.written += lines.length;
    return lines.map(({ line }) => line);
  }

  /** How many pairs TRL would make that share a prompt, were `records` laid out with `rotation`. */
  private sharedIn(records: readonly Pending[], rotation: number, last: boolean, enough: number): number {
    const keys = arrange(records, rotation).map(({ key }) => key);
    const start = this.written;
    const keyAt = (position: number) =>
      position >= start ? keys[position - start] : this.history[this.history.length - (start - position)];
    let shared = 0;
    for (let offset = 0; offset < keys.length && shared < enough; offset += 1) {
      const position = start + offset;
      const total = last && offset === keys.length - 1 ? position + 1 : undefined;
      shared += pairedWith(position, this.checkedBatchSize, total).filter(
        (other) => keyAt(other) === keys[offset],
      ).length;
    }
    return shared;
  }
}

/**
 * The earlier lines TRL pairs with line `position` (0-based) at some batch size up to `maxBatch`:
 * the line before, and the first line of every chunk that ends here — a full one, or, when this
 * is the dataset's last line (`total` lines in all), the short chunk the dataset ends with.
 */
export function pairedWith(position: number, maxBatch: number, total?: number): number[] {
  const partners = new Set(position > 0 ? [position - 1] : []);
  for (let size = 2; size <= maxBatch; size += 1) {
    const start = position + 1 - size;
    if ((position + 1) % size === 0 && start >= 0) partners.add(start);
    else if (total === position + 1) {
      // TRL leaves a one-line chunk as it is; a longer short chunk is rotated like the others.
      const shortStart = position - (position % size);
      if (position - shortStart >= 1) partners.add(shortStart);
    }
  }
  return [...partners];
}

function arrange(records: readonly Pending[], rotation: number) {
  return records.flatMap((record, i) => {
    const partner = records[(i + rotation) % records.length] as Pending;
    return [
      { key: record.key, line: record.undesirable },
      { key: partner.key, line: partner.desirable },
    ];
  });
}

function promptKey(prompt: readonly ChatTurn[]): string {
  return createHash("sha256").update(JSON.stringify(prompt)).digest("base64").slice(0, 16);
}
