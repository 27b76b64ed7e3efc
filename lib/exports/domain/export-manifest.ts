import { CANDIDATE_STATUSES } from "../../common/domain/candidate.ts";
import { EXCLUSION_REASONS, type ExclusionReason, type FirewallVerdict } from "./export-firewall.ts";
import { TRAINER_RULES, type TrainerRule } from "./export-formats.ts";
import type { ExportFilters, ExportFormat, ExportRequest } from "./export-request.ts";

/** A file an export wrote, with what it takes to check a download of it. */
export interface FileReceipt {
  readonly key: string;
  readonly content_type: string;
  readonly bytes: number;
  readonly lines: number;
  readonly sha256: string;
}

export interface ExportCounts {
  /** Candidates read and screened: each one is either exported or quarantined. */
  readonly considered: number;
  readonly considered_by_status: Readonly<Record<string, number>>;
  /** Candidates in the dataset. */
  readonly exported: number;
  /** Lines of the dataset (a KTO candidate makes two). */
  readonly lines: number;
  readonly quarantined: number;
  readonly by_reason: Readonly<Record<ExclusionReason, number>>;
  /** `trainer_rule` exclusions by rule. */
  readonly by_rule: Readonly<Record<TrainerRule, number>>;
}

const zeros = <K extends string>(names: readonly K[]) =>
  Object.fromEntries(names.map((name) => [name, 0])) as Record<K, number>;

/** Counts an export as it screens, in fixed key order so the manifest reads the same every time. */
export class ExportTally {
  private considered = 0;
  private exportedCandidates = 0;
  private lines = 0;
  private readonly byStatus: Record<string, number> = zeros(CANDIDATE_STATUSES);
  private readonly byReason = zeros(EXCLUSION_REASONS);
  private readonly byRule = zeros(TRAINER_RULES);

  get exported(): number {
    return this.exportedCandidates;
  }

  count(status: unknown, verdict: FirewallVerdict): void {
    this.considered += 1;
    const key = typeof status === "string" ? status : "unknown";
    this.byStatus[key] = (this.byStatus[key] ?? 0) + 1;
    if (verdict.passed) {
      this.exportedCandidates += 1;
      this.lines += verdict.lines.length;
      return;
    }
    this.byReason[verdict.entry.reason] += 1;
    if (verdict.entry.rule) this.byRule[verdict.entry.rule] += 1;
  }

  snapshot(): ExportCounts {
    return {
      considered: this.considered,
      considered_by_status: { ...this.byStatus },
      exported: this.exportedCandidates,
      lines: this.lines,
      quarantined: this.considered - this.exportedCandidates,
      by_reason: { ...this.byReason },
      by_rule: { ...this.byRule },
    };
  }
}

export interface TrainerMinimum {
  readonly trainer: string;
  readonly minimum: number;
  readonly unit: "examples" | "pairs";
}

/**
 * What the trainers each format feeds refuse to start with fewer of: OpenAI fine-tuning takes
 * at least 10 examples; Amazon Bedrock preference tuning at least 1,000 preference pairs.
 */
export const TRAINER_MINIMUMS: Readonly<Record<ExportFormat, readonly TrainerMinimum[]>> = {
  "openai-sft": [{ trainer: "OpenAI fine-tuning", minimum: 10, unit: "examples" }],
  "openai-preference": [
    { trainer: "OpenAI fine-tuning", minimum: 10, unit: "examples" },
    { trainer: "Amazon Bedrock preference tuning", minimum: 1_000, unit: "pairs" },
  ],
  "trl-sft": [],
  "trl-dpo": [{ trainer: "Amazon Bedrock preference tuning", minimum: 1_000, unit: "pairs" }],
  "trl-kto": [],
  "bedrock-conversation": [],
  rag: [],
};

export interface ExportWarning {
  readonly code: "below_trainer_minimum";
  readonly trainer: string;
  readonly minimum: number;
  readonly unit: string;
  readonly actual: number;
  readonly message: string;
}

export function trainerWarnings(
  format: ExportFormat,
  counts: Pick<ExportCounts, "exported">,
): ExportWarning[] {
  return TRAINER_MINIMUMS[format]
    .filter(({ minimum }) => counts.exported < minimum)
    .map(({ trainer, minimum, unit }) => ({
      code: "below_trainer_minimum",
      trainer,
      minimum,
      unit,
      actual: counts.exported,
      message: `${trainer} needs at least ${minimum.toLocaleString("en-US")} ${unit}; this dataset has ${counts.exported.toLocaleString("en-US")}`,
    }));
}

/** How records are ordered in every file, which is what makes a rebuild byte-identical. */
export const EXPORT_ORDERING =
  "by the time the answer was produced (or captured), then candidate id, merged over the status index's partitions";

export interface ExportManifest {
  readonly manifest_version: 1;
  readonly export_id: string;
  readonly format: ExportFormat;
  readonly request: ExportRequest;
  readonly filters: ExportFilters;
  readonly code_version: string;
  readonly requested_by: string;
  readonly requested_at: string;
  readonly started_at: string;
  readonly finished_at: string;
  readonly ordering: string;
  readonly counts: ExportCounts;
  readonly warnings: readonly ExportWarning[];
  readonly files: {
    readonly dataset: FileReceipt;
    readonly quarantine: FileReceipt;
    readonly records: FileReceipt;
    /** RAG with Knowledge Bases sidecars: where the documents are and how many. */
    readonly documents: { readonly prefix: string; readonly count: number } | null;
  };
}

export function buildManifest(input: Omit<ExportManifest, "manifest_version" | "ordering" | "warnings">) {
  const manifest: ExportManifest = {
    manifest_version: 1,
    export_id: input.export_id,
    format: input.format,
    request: input.request,
    filters: input.filters,
    code_version: input.code_version,
    requested_by: input.requested_by,
    requested_at: input.requested_at,
    started_at: input.started_at,
    finished_at: input.finished_at,
    ordering: EXPORT_ORDERING,
    counts: input.counts,
    warnings: trainerWarnings(input.format, input.counts),
    files: input.files,
  };
  return manifest;
}
