import { createHash } from "node:crypto";
import { type FirewallVerdict, normalise, type Split } from "./export-firewall.ts";
import {
  type ExportLine,
  FORMATS,
  type FormatSpec,
  recordId,
  type TrainingExample,
} from "./export-formats.ts";
import type { ExportFormat, ExportOptions } from "./export-request.ts";
import type { StateReader, StateWriter } from "./export-state.ts";

/**
 * Same-task preference pairs (`options.pairing: "same_task"`), as the distillation exporter built
 * them: beside each candidate's own pair (its correction over its model's answer), the candidates
 * of one task — the same `task_id` and the same prompt, on the same side of the split — pair with
 * each other: an approved correction, or an answer approved as it was, is preferred over another
 * model's rejected answer on that task.
 *
 * - **Preferred side**: the correction of every candidate of the task that passed the firewall
 *   (an answer approved unchanged is its own correction).
 * - **Rejected side**: each model answer a reviewer corrected, in read order — answers whose
 *   failure category is not `partial_answer` first, then, as the fallback, the `partial_answer`
 *   ones (a partly right answer is a weaker negative, used when the outright wrong ones run out).
 * - **Order**: round by round within each tier: round 0 pairs every rejected answer with its own
 *   correction (today's pair), round k with the k-th other correction in read order; so one
 *   answer cannot take every pair of its task before the others have one.
 * - **Never**: a pair whose two sides read the same after normalising case, whitespace and Unicode
 *   forms (no self-pairs), the same two texts twice, or more than `max_pairs_per_task` (default 5)
 *   pairs per task, so one hot task cannot dominate.
 *
 * Record ids: a candidate's own pair keeps the id it has in `pairing: "correction"`; a cross pair is
 * `sha256(format, preferred candidate, "vs:" rejected candidate)`. `records.jsonl` names the
 * preferred candidate.
 *
 * **Memory.** Candidates are read in time order, not by task, so they wait in a bounded buffer
 * grouped by task: at most `bufferCandidates` candidates (10,000) and `bufferChars` characters of
 * prompt and text (32 M) at once. When either fills, the group that started longest ago is paired
 * and written; later candidates of that task start a new group whose pairs count against the same
 * per-task cap (a count of 8 bytes per task is kept until the end). Every group left is paired at
 * the end of the read, in the order groups started. A candidate in no pair is quarantined as
 * `unpaired`.
 */
export const DEFAULT_MAX_PAIRS_PER_TASK = 5;
const PAIRING_SECTION = "pairing";

export interface PairingLimits {
  readonly bufferCandidates: number;
  readonly bufferChars: number;
}
export const PAIRING_BUFFER: PairingLimits = { bufferCandidates: 10_000, bufferChars: 32_000_000 };

/** A screened candidate and what the pairing decided for it. */
export interface PairedVerdict {
  readonly status: unknown;
  readonly verdict: FirewallVerdict;
}

type Passed = Extract<FirewallVerdict, { passed: true }>;

interface Member {
  readonly status: unknown;
  readonly verdict: Passed;
  readonly taskId: string;
}

interface Group {
  readonly task: string;
  readonly members: Member[];
}

const textSize = (example: TrainingExample) =>
  example.chosen.length + example.rejected.length + example.prompt.reduce((n, t) => n + t.content.length, 0);

export class SameTaskPairing {
  private readonly spec: FormatSpec;
  private readonly cap: number;
  private readonly groups = new Map<string, Group>();
  /** Pairs written per task, across the groups a full buffer split it into. */
  private readonly pairsOfTask = new Map<string, number>();
  private buffered = 0;
  private chars = 0;

  constructor(
    private readonly format: ExportFormat,
    private readonly options: ExportOptions,
    private readonly limits: PairingLimits = PAIRING_BUFFER,
  ) {
    this.spec = FORMATS[format];
    this.cap = options.max_pairs_per_task ?? DEFAULT_MAX_PAIRS_PER_TASK;
  }

  /** Candidates waiting for the rest of their task. */
  get pending(): number {
    return this.buffered;
  }

  /**
   * Takes one screened candidate; returns what can be written now: a refused one at once, a
   * candidate without a task id with its own pair at once, and any group a full buffer let go.
   */
  add(status: unknown, verdict: FirewallVerdict, taskId: unknown): PairedVerdict[] {
    if (!verdict.passed) return [{ status, verdict: withoutLineReference(verdict) }];
    if (typeof taskId !== "string" || taskId.trim() === "") {
      return this.pairGroup({ task: "", members: [{ status, verdict, taskId: "" }] });
    }
    const key = groupKey(taskId, verdict.split, verdict.example);
    let group = this.groups.get(key);
    if (!group) {
      group = { task: `${verdict.split}\u0000${taskId}\u0000${key}`, members: [] };
      this.groups.set(key, group);
    }
    group.members.push({ status, verdict, taskId });
    this.buffered += 1;
    this.chars += textSize(verdict.example);
    const released: PairedVerdict[] = [];
    while (this.buffered > this.limits.bufferCandidates || this.chars > this.limits.bufferChars) {
      const [oldest] = this.groups.keys();
      if (oldest === undefined) break;
      released.push(...this.release(oldest));
    }
    return released;
  }

  /**
   * Into an export's checkpoint: the groups waiting (their candidates as screened) and the pairs
   * each task has had, so the invocation that goes on pairs exactly as one that never stopped.
   */
  save(state: StateWriter): void {
    const groups = [...this.groups].map(([key, group]) => ({ key, ...group }));
    const saved = { groups, pairsOfTask: [...this.pairsOfTask] };
    state.bytes(PAIRING_SECTION, Buffer.from(JSON.stringify(saved)));
  }

  /** Takes up where a saved pairing left off (nothing to do when the checkpoint has none). */
  restore(state: StateReader): void {
    if (!state.has(PAIRING_SECTION)) return;
    const saved = JSON.parse(Buffer.from(state.bytes(PAIRING_SECTION)).toString("utf8")) as {
      groups: (Group & { key: string })[];
      pairsOfTask: [string, number][];
    };
    for (const { key, task, members } of saved.groups) {
      this.groups.set(key, { task, members });
      this.buffered += members.length;
      for (const member of members) this.chars += textSize(member.verdict.example);
    }
    for (const [task, count] of saved.pairsOfTask) this.pairsOfTask.set(task, count);
  }

  /** Pairs every group still waiting, in the order the groups started. */
  finish(): PairedVerdict[] {
    const released: PairedVerdict[] = [];
    for (const key of [...this.groups.keys()]) released.push(...this.release(key));
    return released;
  }

  private release(key: string): PairedVerdict[] {
    const group = this.groups.get(key);
    if (!group) return [];
    this.groups.delete(key);
    this.buffered -= group.members.length;
    for (const member of group.members) this.chars -= textSize(member.verdict.example);
    return this.pairGroup(group);
  }

  private pairGroup(group: Group): PairedVerdict[] {
    const { members } = group;
    const taskKey = createHash("sha256").update(group.task).digest("hex").slice(0, 16);
    const already = group.task === "" ? 0 : (this.pairsOfTask.get(taskKey) ?? 0);
    const cap = group.task === "" ? Number.POSITIVE_INFINITY : this.cap;
    const linesOf = members.map((): ExportLine[] => []);
    const used = members.map(() => false);
    const seen = new Set<string>();
    let made = already;

    const rejectedAnswer = (m: Member) => {
      const { chosen, rejected } = m.verdict.example;
      return rejected.trim() !== "" && normalise(rejected) !== normalise(chosen);
    };
    const partial = (m: Member) => m.verdict.example.context.failure_category === "partial_answer";
    const tiers = [
      members.flatMap((m, i) => (rejectedAnswer(m) && !partial(m) ? [i] : [])),
      members.flatMap((m, i) => (rejectedAnswer(m) && partial(m) ? [i] : [])),
    ];

    for (const tier of tiers) {
      for (let round = 0; round < members.length && made < cap; round++) {
        for (const r of tier) {
          if (made >= cap) break;
          // Round 0: the answer's own correction; round k: the k-th other candidate in read order.
          const others = members.map((_, i) => i).filter((i) => i !== r);
          const c = round === 0 ? r : others[round - 1];
          if (c === undefined) continue;
          const line = this.pair(members[c] as Member, members[r] as Member, c === r, seen);
          if (!line) continue;
          (linesOf[c] as ExportLine[]).push(line);
          used[c] = true;
          used[r] = true;
          made += 1;
        }
      }
    }
    if (group.task !== "") this.pairsOfTask.set(taskKey, made);

    return members.map((member, i) => {
      if (!used[i]) {
        const full = made >= cap && group.task !== "";
        return {
          status: member.status,
          verdict: unpaired(
            member,
            full
              ? `its task ${member.taskId} already has max_pairs_per_task (${this.cap}) pairs`
              : member.taskId
                ? `no rejected answer of task ${member.taskId} pairs with it (and its own answer is not one)`
                : "no task_id, and its own answer is no rejected answer to pair with",
          ),
        };
      }
      return { status: member.status, verdict: { ...member.verdict, lines: linesOf[i] as ExportLine[] } };
    });
  }

  /** The line preferring `c`'s correction over `r`'s answer, or `null` when it may not be made. */
  private pair(c: Member, r: Member, own: boolean, seen: Set<string>): ExportLine | null {
    const chosen = c.verdict.example.chosen;
    const rejected = r.verdict.example.rejected;
    if (normalise(chosen) === normalise(rejected)) return null;
    const texts = `${normalise(chosen)}\u0000${normalise(rejected)}`;
    if (seen.has(texts)) return null;
    const example: TrainingExample = { ...c.verdict.example, rejected };
    if (this.spec.check(example)) return null;
    const [built] = this.spec.build(example, this.options);
    if (!built) return null;
    const id = own
      ? built.recordId
      : recordId(c.verdict.example.candidateId, this.format, `vs:${r.verdict.example.candidateId}`);
    const line = "id" in built.line ? { ...built.line, id } : built.line;
    if (!this.spec.schema.safeParse(line).success) return null;
    seen.add(texts);
    return { recordId: id, line };
  }
}

/** Candidates of one task pair only when they answer the same prompt, on the same side of the split. */
function groupKey(taskId: string, split: Split, example: TrainingExample): string {
  const hash = createHash("sha256").update(`${split}\u0000${taskId}\u0000`);
  for (const t of example.prompt) hash.update(`${normalise(t.role)}\u0000${normalise(t.content)}\u0001`);
  return hash.digest("hex");
}

function unpaired(member: Member, detail: string): FirewallVerdict {
  const { example } = member.verdict;
  return {
    passed: false,
    entry: {
      candidate_id: example.candidateId,
      reason: "unpaired",
      detail,
      status: typeof member.status === "string" ? member.status : null,
      failure_category: example.context.failure_category,
      source: example.context.source,
      run_id: example.context.run_id,
    },
  };
}

/**
 * With pairs written a group at a time, the firewall's running line numbers do not match the
 * file: a duplicate names what it repeats in words only.
 */
function withoutLineReference(verdict: Extract<FirewallVerdict, { passed: false }>): FirewallVerdict {
  const { duplicate_of_line, near_duplicate_of_line, duplicate_in, ...entry } = verdict.entry;
  if (duplicate_of_line === undefined && near_duplicate_of_line === undefined) return verdict;
  return {
    passed: false,
    entry: {
      ...entry,
      detail:
        entry.reason === "near_duplicate"
          ? "nearly the same words as a record already exported"
          : "same prompt and correction as a record already exported",
    },
  };
}
