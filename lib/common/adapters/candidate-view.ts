import type { CandidateView } from "../../review/ports.ts";

/** The prompt and answer of a candidate whose item was too big to hold them. */
export interface CandidateBody {
  readonly prompt_messages: unknown;
  readonly model_response: string | null;
}

export interface CandidateBodyReader {
  getCandidateBody(key: string): Promise<CandidateBody>;
}

/** Attributes that only serve storage: keys, index keys, the item type and the body pointer. */
const STORAGE_ATTRIBUTES = new Set([
  "pk",
  "sk",
  "gsi1pk",
  "gsi1sk",
  "gsi2pk",
  "gsi2sk",
  "type",
  "body_ref",
  "prompt_preview",
  "model_response_preview",
]);

const AVOCET_FIELDS = [
  "id",
  "source",
  "benchmark_run_id",
  "timestamp",
  "status",
  "prompt_messages",
  "model_response",
  "corrected_response",
  "quality_score",
  "failure_reason",
  "failure_category",
  "task_id",
  "task_type",
  "task_name",
  "model_id",
  "model_name",
  "node_id",
  "gpu_id",
  "tokens_per_sec",
];

/**
 * Turns stored candidate items into what the API shows: the candidate's own fields, with the
 * full prompt and answer loaded back from the body store when they were moved out.
 */
export class CandidateViews {
  constructor(private readonly bodies: CandidateBodyReader) {}

  async toView(item: Record<string, unknown>): Promise<CandidateView> {
    const fields: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(item)) {
      if (!STORAGE_ATTRIBUTES.has(name)) fields[name] = value;
    }
    const ref = item.body_ref as { key?: unknown } | undefined;
    if (typeof ref?.key === "string") {
      const body = await this.bodies.getCandidateBody(ref.key);
      fields.prompt_messages = body.prompt_messages;
      fields.model_response = body.model_response;
    }
    // Avocet's fields first, in the order of a run file's lines; then the rest by name.
    const view: Record<string, unknown> = {};
    for (const name of AVOCET_FIELDS) if (name in fields) view[name] = fields[name];
    for (const name of Object.keys(fields).sort()) if (!(name in view)) view[name] = fields[name];
    return view as CandidateView;
  }

  toViews(items: readonly Record<string, unknown>[]): Promise<CandidateView[]> {
    return Promise.all(items.map((item) => this.toView(item)));
  }
}
