import { CANDIDATE_STATUSES } from "../../common/domain/candidate.ts";
import { EXCLUSION_REASONS, type ExclusionReason, type FirewallVerdict } from "./export-firewall.ts";
import { TRAINER_RULES, type TrainerRule } from "./export-formats.ts";
import type { ExportFilters, ExportFormat, ExportOptions, ExportRequest } from "./export-request.ts";

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
  /**
   * The statuses the export did not read and how many candidates hold each, from the stats
   * counters when it started (the whole table: the other filters do not narrow these).
   */
  readonly not_read_by_status?: Readonly<Record<string, number>>;
}

const zeros = <K extends string>(names: readonly K[]) =>
  Object.fromEntries(names.map((name) => [name, 0])) as Record<K, number>;

/** A tally as an export's checkpoint keeps it. */
export interface TallyMemory {
  readonly considered: number;
  readonly exported: number;
  readonly lines: number;
  readonly by_status: Record<string, number>;
  readonly by_reason: Record<string, number>;
  readonly by_rule: Record<string, number>;
}

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

  /** Everything counted so far, for an export's checkpoint. */
  save(): TallyMemory {
    return {
      considered: this.considered,
      exported: this.exportedCandidates,
      lines: this.lines,
      by_status: { ...this.byStatus },
      by_reason: { ...this.byReason },
      by_rule: { ...this.byRule },
    };
  }

  /** Counts on from a saved tally. */
  static restore(saved: TallyMemory): ExportTally {
    const tally = new ExportTally();
    tally.considered = saved.considered;
    tally.exportedCandidates = saved.exported;
    tally.lines = saved.lines;
    Object.assign(tally.byStatus, saved.by_status);
    Object.assign(tally.byReason, saved.by_reason);
    Object.assign(tally.byRule, saved.by_rule);
    return tally;
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

/**
 * How many examples a trainer a format feeds takes, as its own documentation or validator has it.
 * A bound is only listed on a format that trainer reads.
 */
export interface TrainerBound {
  readonly trainer: string;
  readonly minimum?: number;
  readonly maximum?: number;
  readonly unit: "examples" | "pairs" | "samples";
}

/** OpenAI fine-tuning refuses fewer than 10 examples. */
const OPENAI: TrainerBound = { trainer: "OpenAI fine-tuning", minimum: 10, unit: "examples" };
/**
 * Amazon Nova on Bedrock, as AWS's Nova dataset validator bounds a training file: 8 to 20,000
 * samples for Nova Micro, Lite and Pro; Nova 2 Lite SFT needs at least 200.
 */
const NOVA: TrainerBound = {
  trainer: "Amazon Nova fine-tuning on Bedrock",
  minimum: 8,
  maximum: 20_000,
  unit: "samples",
};
const NOVA_2_LITE_SFT: TrainerBound = {
  trainer: "Amazon Nova 2 Lite supervised fine-tuning on Bedrock",
  minimum: 200,
  unit: "samples",
};
/** The validator's bounds for Nova 2 Lite reinforcement fine-tuning. */
const NOVA_2_LITE_RFT: TrainerBound = {
  trainer: "Amazon Nova 2 Lite reinforcement fine-tuning on Bedrock",
  minimum: 100,
  maximum: 20_000,
  unit: "samples",
};
const BEDROCK_PREFERENCE: TrainerBound = {
  trainer: "Amazon Bedrock preference tuning",
  minimum: 1_000,
  unit: "pairs",
};

export const TRAINER_BOUNDS: Readonly<Record<ExportFormat, readonly TrainerBound[]>> = {
  "openai-sft": [OPENAI],
  "openai-preference": [OPENAI],
  "trl-sft": [],
  "trl-dpo": [],
  "trl-kto": [],
  "bedrock-conversation": [NOVA, NOVA_2_LITE_SFT],
  "bedrock-preference": [NOVA, BEDROCK_PREFERENCE],
  "bedrock-rft": [NOVA_2_LITE_RFT],
  "vertex-gemini": [],
  rag: [],
};

export type ExportWarning =
  | {
      readonly code: "below_trainer_minimum";
      readonly trainer: string;
      readonly minimum: number;
      readonly unit: string;
      readonly actual: number;
      readonly message: string;
    }
  | {
      readonly code: "above_trainer_maximum";
      readonly trainer: string;
      readonly maximum: number;
      readonly unit: string;
      readonly actual: number;
      readonly message: string;
    }
  | {
      /** `trl-sft` in `messages` style: TRL's loss covers the prompt too. */
      readonly code: "full_sequence_loss";
      readonly trainer: string;
      readonly option: string;
      readonly message: string;
    }
  | {
      /** `trl-kto`: KL pairs at some batch size that share a prompt (no order avoided them). */
      readonly code: "kto_kl_shared_prompt";
      readonly trainer: string;
      readonly actual: number;
      readonly message: string;
    }
  | {
      /** `rag` documents: the date the bucket's lifecycle rule deletes them. */
      readonly code: "documents_expire";
      readonly expires_at: string;
      readonly message: string;
    };

const count = (n: number) => n.toLocaleString("en-US");

export function trainerWarnings(
  format: ExportFormat,
  counts: Pick<ExportCounts, "exported">,
  options?: Pick<ExportOptions, "trl_sft_style">,
): ExportWarning[] {
  const warnings: ExportWarning[] = [];
  const actual = counts.exported;
  for (const { trainer, minimum, maximum, unit } of TRAINER_BOUNDS[format]) {
    if (minimum !== undefined && actual < minimum) {
      warnings.push({
        code: "below_trainer_minimum",
        trainer,
        minimum,
        unit,
        actual,
        message: `${trainer} needs at least ${count(minimum)} ${unit}; this dataset has ${count(actual)}`,
      });
    }
    if (maximum !== undefined && actual > maximum) {
      warnings.push({
        code: "above_trainer_maximum",
        trainer,
        maximum,
        unit,
        actual,
        message: `${trainer} takes at most ${count(maximum)} ${unit}; this dataset has ${count(actual)} (narrow it with filters.limit or the time range)`,
      });
    }
  }
  if (format === "trl-sft" && options?.trl_sft_style === "messages") {
    warnings.push({
      code: "full_sequence_loss",
      trainer: "TRL SFTTrainer",
      option: "trl_sft_style",
      message:
        "messages style: TRL computes the loss over the whole conversation, prompt included " +
        '(completion-only loss applies to prompt-completion data only); request options.trl_sft_style: "prompt_completion" ' +
        "to train on the reviewed answer alone",
    });
  }
  return warnings;
}

/** How records are ordered in every file, which is what makes a rebuild byte-identical. */
export const EXPORT_ORDERING =
  "by the time the answer was produced (or captured), then candidate id, merged over the status index's partitions";

/** One format of a job of several, as its one manifest lists it. */
export interface ExportFormatPart {
  readonly format: ExportFormat;
  readonly counts: ExportCounts;
  readonly warnings: readonly ExportWarning[];
  readonly files: ExportManifest["files"];
}

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
  /** The eval sets every record was checked against, and the n-gram length. */
  readonly decontamination?: {
    readonly ngram: number;
    /** Each registered set, with its version (a hash of its files) when read from the bucket. */
    readonly sets: readonly { readonly name: string; readonly items: number; readonly version?: string }[];
  };
  /**
   * With `formats`: every format the job wrote, the request's `format` first (its files are the
   * top-level `files`), each with its own counts, warnings and files.
   */
  readonly formats?: readonly ExportFormatPart[];
  /** `options.dry_run`: nothing was written; `files` tell what would have been. */
  readonly dry_run?: true;
  readonly counts: ExportCounts;
  readonly warnings: readonly ExportWarning[];
  readonly files: {
    readonly dataset: FileReceipt;
    readonly quarantine: FileReceipt;
    readonly records: FileReceipt;
    /** RAG with Knowledge Bases sidecars: where the documents are and how many. */
    readonly documents: { readonly prefix: string; readonly count: number } | null;
    /** With `options.validation_fraction`: the validation file. */
    readonly validation?: FileReceipt;
  };
}

export function buildManifest(
  input: Omit<ExportManifest, "manifest_version" | "ordering" | "warnings" | "dry_run">,
  /** Warnings only the build knows (the KTO order, the documents' expiry). */
  buildWarnings: readonly ExportWarning[] = [],
) {
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
    ...(input.decontamination ? { decontamination: input.decontamination } : {}),
    ...(input.request.options.dry_run ? { dry_run: true as const } : {}),
    counts: input.counts,
    warnings: [...trainerWarnings(input.format, input.counts, input.request.options), ...buildWarnings],
    files: input.files,
  };
  return manifest;
}
