import { createHash } from "node:crypto";
import { PromptMessage } from "../../common/domain/candidate.ts";
import {
  type ProvenanceSubject,
  type ProvenanceVerdict,
  validateProvenance,
} from "../../common/domain/provenance.ts";
import type { EvalIndex } from "./decontamination.ts";
import {
  type ChatTurn,
  type ExampleContext,
  type ExportLine,
  FORMATS,
  type FormatSpec,
  type TrainerRule,
  type TrainingExample,
} from "./export-formats.ts";
import type { ExportFilters, ExportFormat, ExportOptions } from "./export-request.ts";
import type { StateReader, StateWriter } from "./export-state.ts";
import { FingerprintSet } from "./fingerprint-set.ts";
import { NearDuplicateIndex, type NearDuplicateMemory, signature } from "./near-duplicates.ts";

/** Why a considered candidate was kept out of a dataset: exactly one per quarantined record. */
export const EXCLUSION_REASONS = [
  "status_disallowed",
  "category_disallowed",
  "missing_provenance",
  "schema_violation",
  "empty_content",
  "self_pairing",
  "trainer_rule",
  "eval_contamination",
  "duplicate_content",
  "near_duplicate",
  /** `pairing: "same_task"` only: the candidate is in no pair of its task (none to pair, or the cap). */
  "unpaired",
] as const;
export type ExclusionReason = (typeof EXCLUSION_REASONS)[number];

/** One line of an export's `quarantine.jsonl`. */
export interface QuarantineEntry {
  readonly candidate_id: string;
  readonly reason: ExclusionReason;
  /** `trainer_rule` only: which rule. */
  readonly rule?: TrainerRule;
  readonly detail: string;
  readonly status: string | null;
  readonly failure_category: string | null;
  readonly source: string | null;
  readonly run_id: string | null;
  /** `missing_provenance` only: the fields the provenance validator found missing. */
  readonly missing?: readonly string[];
  /** `duplicate_content` only: the dataset line of the first record with the same content. */
  readonly duplicate_of_line?: number;
  /** `eval_contamination` only: the registered eval set and the item the record overlaps. */
  readonly eval_set?: string;
  readonly eval_item?: string;
  /** `near_duplicate` only: the line of the record it nearly repeats (with `duplicate_in` if there). */
  readonly near_duplicate_of_line?: number;
  /** `duplicate_content` only, when that line is in `validation.jsonl` rather than the dataset. */
  readonly duplicate_in?: "validation";
}

/** Which file a passed record's lines go to. */
export type Split = "train" | "validation";

/** The side of the split a candidate falls on: a hash of its id alone, the same in every export. */
export function splitOf(candidateId: string, validationFraction: number | undefined): Split {
  if (!validationFraction) return "train";
  const hash = createHash("sha256").update(`validation\n${candidateId}`).digest();
  return hash.readUInt32BE(0) / 2 ** 32 < validationFraction ? "validation" : "train";
}

export type FirewallVerdict =
  | {
      readonly passed: true;
      readonly example: TrainingExample;
      readonly lines: readonly ExportLine[];
      /** The line number of the first of `lines`, in the file of its split. */
      readonly firstLine: number;
      /** `train` (the dataset) unless `options.validation_fraction` put it in `validation.jsonl`. */
      readonly split: Split;
    }
  | { readonly passed: false; readonly entry: QuarantineEntry };

export type ProvenanceCheck = (subject: ProvenanceSubject) => ProvenanceVerdict;

export interface FirewallPolicy {
  readonly format: ExportFormat;
  readonly options: ExportOptions;
  readonly filters: Pick<ExportFilters, "include_categories" | "exclude_categories">;
  /** The registered eval sets' n-grams: a record overlapping one is `eval_contamination`. */
  readonly evalIndex?: EvalIndex | undefined;
}

type CandidateRecord = Readonly<Record<string, unknown>>;

const text = (value: unknown): string | null => (typeof value === "string" ? value : null);
const isBlank = (value: string | null) => value === null || value.trim() === "";

/**
 * The contamination firewall: decides for each candidate an export considers whether it goes
 * into the dataset or into the quarantine, and why. Checks run in a fixed order and the first
 * one that fails names the reason:
 *
 *   1. status_disallowed    — anything but `approved` (discarded, flagged, unreviewed)
 *   2. category_disallowed  — the failure category is excluded, or not among those included
 *   3. missing_provenance   — `validateProvenance` finds the record untraceable
 *   4. schema_violation     — the stored prompt is not a list of {role, content}
 *   5. empty_content        — blank correction, prompt, or (for pairs) model answer
 *   6. self_pairing         — a preference pair whose two answers are the same
 *   7. trainer_rule         — a rule of the format's trainer (the rule is named)
 *   8. schema_violation     — the line built does not match the format's schema
 *   9. eval_contamination   — shares a long run of words with an item of a registered eval set
 *  10. duplicate_content    — same normalised prompt and correction as a record already exported
 *  11. near_duplicate       — (on request) nearly the same words as a record already exported
 *
 * Duplicates are decided last, so only records that would otherwise be exported count, and the
 * first of them in the export's (stable) order is the one kept.
 */
/** The header part of a saved firewall (its tables are sections of the state object). */
export interface FirewallMemory {
  readonly nextLine: Record<Split, number>;
  /** Fingerprints in the exported table. */
  readonly exported: number;
  /**
   * Records in the near-duplicate index, when near-duplicates are checked; a checkpoint saved
   * before the index was packed has the entries of each band table here instead.
   */
  readonly near: NearDuplicateMemory | number[] | null;
}

export class ExportFirewall {
  private readonly spec: FormatSpec;
  private exported = new FingerprintSet();
  private nextLine: Record<Split, number> = { train: 1, validation: 1 };
  /** With `options.near_duplicate_threshold`: the exported records' MinHash signatures. */
  private near: NearDuplicateIndex | null;

  constructor(
    private readonly policy: FirewallPolicy,
    private readonly checkProvenance: ProvenanceCheck = validateProvenance,
  ) {
    this.spec = FORMATS[policy.format];
    const threshold = policy.options.near_duplicate_threshold;
    this.near = threshold === undefined ? null : new NearDuplicateIndex(threshold);
  }

  /** Long on purpose: the firewall's rules read top to bottom in the order they are applied, each one a few lines. */
  screen(candidate: CandidateRecord): FirewallVerdict {
    const provenance = isRecord(candidate.provenance) ? candidate.provenance : {};
    const status = text(candidate.status);
    const category = text(candidate.failure_category);
    const exclude = (reason: ExclusionReason, detail: string, extra: Partial<QuarantineEntry> = {}) => ({
      passed: false as const,
      entry: {
        candidate_id: String(candidate.id),
        reason,
        ...(extra.rule ? { rule: extra.rule } : {}),
        detail,
        status,
        failure_category: category,
        source: text(provenance.source) ?? text(candidate.source),
        run_id: text(provenance.source_run_id) ?? text(candidate.benchmark_run_id),
        ...(extra.missing ? { missing: extra.missing } : {}),
        ...(extra.duplicate_of_line ? { duplicate_of_line: extra.duplicate_of_line } : {}),
        ...(extra.near_duplicate_of_line ? { near_duplicate_of_line: extra.near_duplicate_of_line } : {}),
        ...(extra.duplicate_in ? { duplicate_in: extra.duplicate_in } : {}),
        ...(extra.eval_set ? { eval_set: extra.eval_set, eval_item: extra.eval_item } : {}),
      },
    });

    // RAG may take candidates still in review, on request; never discarded or flagged ones.
    const inReview =
      status === "needs_review" &&
      this.policy.format === "rag" &&
      this.policy.options.include_in_review === true;
    if (status !== "approved" && !inReview) {
      return exclude("status_disallowed", `the candidate is ${status ?? "without a status"}, not approved`);
    }
    const categoryProblem = this.categoryProblem(category);
    if (categoryProblem) return exclude("category_disallowed", categoryProblem);

    const verdict = this.checkProvenance({ provenance: candidate.provenance, status });
    if (!verdict.valid) {
      return exclude("missing_provenance", verdict.errors.join("; "), { missing: verdict.missing });
    }

    const prompt = promptOf(candidate.prompt_messages);
    if (!prompt.ok && this.spec.needsPrompt) return exclude("schema_violation", prompt.problem);
    const turns = prompt.ok ? prompt.turns : [];
    // In review, the correction is the one the uploaded line came with, if any (kept as `upstream`).
    const chosen = inReview
      ? text((isRecord(candidate.upstream) ? candidate.upstream : {}).corrected_response)
      : text(candidate.corrected_response);
    const rejected = text(candidate.model_response);
    if (isBlank(chosen)) {
      return exclude(
        "empty_content",
        inReview ? "the candidate is in review and came with no correction" : "the correction is blank",
      );
    }
    if (this.spec.needsPrompt) {
      if (turns.length === 0) return exclude("empty_content", "the prompt has no messages");
      const blank = turns.findIndex((t) => t.content.trim() === "");
      if (blank >= 0) {
        return exclude("empty_content", `prompt message ${blank + 1} (${turns[blank]?.role}) is blank`);
      }
    }
    // Same-task pairing: an answer approved unchanged, or none, still offers its correction to
    // the task's other candidates' pairs, so it has no own pair rather than being refused.
    const ownPair =
      this.spec.pairs && !isBlank(rejected) && normalise(rejected as string) !== normalise(chosen as string);
    if (this.spec.pairs && !(this.policy.options.pairing === "same_task" && !ownPair)) {
      if (isBlank(rejected)) return exclude("empty_content", "the model's answer is blank");
      if (normalise(rejected as string) === normalise(chosen as string)) {
        return exclude("self_pairing", "the correction is the model's answer: chosen equals rejected");
      }
    }

    const example: TrainingExample = {
      candidateId: String(candidate.id),
      prompt: turns,
      chosen: chosen as string,
      rejected: rejected ?? "",
      context: inReview
        ? { ...contextOf(candidate, provenance, category), review_status: "needs_review" }
        : contextOf(candidate, provenance, category),
    };
    const violation = this.spec.check(example);
    if (violation) return exclude("trainer_rule", violation.detail, { rule: violation.rule });

    const lines = this.spec.pairs && !ownPair ? [] : this.spec.build(example, this.policy.options);
    for (const { line } of lines) {
      const parsed = this.spec.schema.safeParse(line);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        const where = issue?.path.map(String).join(".") || "(line)";
        return exclude("schema_violation", `${this.policy.format} line: ${where}: ${issue?.message}`);
      }
    }

    // Same-task pairing: two models corrected to the same answer are two rejected answers, not a
    // duplicate; the pairing keeps the same two texts from pairing twice.
    const fingerprint = contentFingerprint(
      turns,
      this.policy.options.pairing === "same_task"
        ? `${example.chosen}\u0003${example.rejected}`
        : example.chosen,
    );
    const hit = this.contamination(example);
    if (hit) {
      return exclude(
        "eval_contamination",
        `${hit.where} shares a ${this.policy.evalIndex?.n}-word run with item ${hit.item} of eval set ${hit.set}`,
        { eval_set: hit.set, eval_item: hit.item },
      );
    }

    // Stored as line × 2 + side, so a duplicate names the file its first record went to.
    const stored = this.exported.get(fingerprint);
    if (stored !== undefined) {
      const line = Math.floor(stored / 2);
      const inValidation = stored % 2 === 1;
      return exclude(
        "duplicate_content",
        `same prompt and correction as ${inValidation ? "validation" : "dataset"} line ${line}`,
        { duplicate_of_line: line, ...(inValidation ? { duplicate_in: "validation" as const } : {}) },
      );
    }
    const split = splitOf(example.candidateId, this.policy.options.validation_fraction);
    const firstLine = this.nextLine[split];
    const stamp = firstLine * 2 + (split === "validation" ? 1 : 0);
    if (this.near) {
      const sig = signature([...turns.map((t) => t.content), example.chosen].join("\n"));
      const match = this.near.find(sig);
      if (match) {
        const line = Math.floor(match.value / 2);
        const inValidation = match.value % 2 === 1;
        return exclude(
          "near_duplicate",
          `about ${Math.round(match.similarity * 100)}% the same words as ${inValidation ? "validation" : "dataset"} line ${line}`,
          { near_duplicate_of_line: line, ...(inValidation ? { duplicate_in: "validation" as const } : {}) },
        );
      }
      this.near.add(sig, stamp);
    }
    this.exported.add(fingerprint, stamp);
    this.nextLine[split] += lines.length;
    return { passed: true, example, lines, firstLine, split };
  }

  /**
   * What the firewall remembers from one record to the next (the exported records' fingerprints,
   * their signatures, the next line of each file), written into an export's checkpoint: the
   * tables go into `state` as they lie in memory, the rest is returned for the header.
   */
  save(state: StateWriter): FirewallMemory {
    const exported = this.exported.save();
    state.u32("firewall.exported.keys", exported.keys).u32("firewall.exported.values", exported.values);
    if (this.near) {
      return {
        nextLine: { ...this.nextLine },
        exported: exported.used,
        near: this.near.save(state, "firewall.near"),
      };
    }
    return { nextLine: { ...this.nextLine }, exported: exported.used, near: null };
  }

  /** Takes up where a saved firewall left off. */
  restore(memory: FirewallMemory, state: StateReader): void {
    this.nextLine = { ...memory.nextLine };
    this.exported = FingerprintSet.restore({
      keys: state.u32("firewall.exported.keys"),
      values: state.u32("firewall.exported.values"),
      used: memory.exported,
    });
    const threshold = this.policy.options.near_duplicate_threshold;
    if (threshold !== undefined && memory.near) {
      this.near = Array.isArray(memory.near)
        ? NearDuplicateIndex.restoreUnpacked(
            threshold,
            state.u32("firewall.near.signatures"),
            state.u32("firewall.near.values"),
          )
        : NearDuplicateIndex.restore(threshold, state, "firewall.near", memory.near);
    }
  }

  /** The first eval item the prompt, the correction or (for pairs) the model's answer overlaps. */
  private contamination(example: TrainingExample) {
    const index = this.policy.evalIndex;
    if (!index) return null;
    const texts: [string, string][] = [
      ...example.prompt.map((t, i): [string, string] => [`prompt message ${i + 1}`, t.content]),
      ["the correction", example.chosen],
      ...(this.spec.pairs ? [["the model's answer", example.rejected] as [string, string]] : []),
    ];
    for (const [where, value] of texts) {
      const hit = index.find(value);
      if (hit) return { ...hit, where };
    }
    return null;
  }

  private categoryProblem(category: string | null): string | null {
    const { include_categories: include, exclude_categories: excluded } = this.policy.filters;
    if (include && !(category !== null && include.includes(category as never))) {
      return `failure category ${category ?? "(none)"} is not among those included (${include.join(", ")})`;
    }
    if (excluded && category !== null && excluded.includes(category as never)) {
      return `failure category ${category} is excluded`;
    }
    return null;
  }
}

/** Case, Unicode compatibility forms and runs of whitespace do not make content different. */
export function normalise(value: string): string {
  // NFKC is the costly step and changes nothing in plain ASCII, which most content is.
  const text = NON_ASCII.test(value) ? value.normalize("NFKC") : value;
  return text.toLowerCase().replace(/\s+/g, " ").trim();
}

/** Any UTF-16 code unit outside ASCII (surrogate halves included). */
const NON_ASCII = /[\u0080-\uffff]/;

/** The duplicate key: a hash of the normalised prompt (roles included) and the normalised answer. */
export function contentFingerprint(prompt: readonly ChatTurn[], answer: string): Uint8Array {
  const hash = createHash("sha256");
  for (const t of prompt) hash.update(`${normalise(t.role)}\u0000${normalise(t.content)}\u0001`);
  return hash.update(`\u0002${normalise(answer)}`).digest();
}

type PromptResult = { ok: true; turns: ChatTurn[] } | { ok: false; problem: string };

function promptOf(value: unknown): PromptResult {
  if (value === null || value === undefined) return { ok: true, turns: [] };
  if (!Array.isArray(value)) return { ok: false, problem: "prompt_messages is not a list" };
  const turns: ChatTurn[] = [];
  for (const [i, message] of value.entries()) {
    const parsed = PromptMessage.safeParse(message);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        ok: false,
        problem: `prompt_messages[${i}]${issue?.path.length ? `.${issue.path.map(String).join(".")}` : ""}: ${issue?.message}`,
      };
    }
    turns.push({ role: parsed.data.role, content: parsed.data.content });
  }
  return { ok: true, turns };
}

function contextOf(
  candidate: CandidateRecord,
  provenance: Record<string, unknown>,
  category: string | null,
): ExampleContext {
  return {
    source: text(provenance.source) ?? text(candidate.source),
    task_type: text(candidate.task_type),
    model: text(provenance.model) ?? text(candidate.model_name) ?? text(candidate.model_id),
    failure_category: category,
    captured_at: text(provenance.captured_at),
    run_id: text(provenance.source_run_id) ?? text(candidate.benchmark_run_id),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
