import type { ExclusionReason } from "../../lib/exports/domain/export-firewall.ts";
import type { TrainerRule } from "../../lib/exports/domain/export-formats.ts";
import type { ExportFormat } from "../../lib/exports/domain/export-request.ts";

type Stored = Record<string, unknown> & { id: string; status: string };

/** The candidate every format's golden line is built from: prompt P, answer B, correction C. */
export const KNOWN_CANDIDATE: Stored = {
  id: "2026-04-07-143022-0000007",
  source: "cf-orch-benchmark",
  timestamp: "2026-04-07T14:30:22Z",
  status: "approved",
  prompt_messages: [
    { role: "system", content: "Solve the problem. End with 'Answer: <number>'." },
    { role: "user", content: "A train travels 55 km in 2 hours. What is its average speed in km/h?" },
  ],
  model_response: "Answer: 110",
  corrected_response: "Answer: 27.5",
  failure_category: "wrong_answer",
  task_type: "math",
  model_name: "Qwen2.5-3B",
  version: 2,
  provenance: {
    source: "benchmark",
    channel: "s3-upload",
    model: "Qwen2.5-3B",
    captured_at: "2026-04-07T14:31:00.000Z",
    source_run_id: "2026-04-07-143022",
    bucket: "flywheel-data",
    key: "runs/2026-04-07-143022/sft_candidates.jsonl",
    line: 8,
    approved: true,
    approved_by: "ana@example.com",
    approved_at: "2026-04-08T09:00:00.000Z",
  },
};

let minute = 0;

/** An approved candidate with complete provenance; `marker` makes its texts unique and findable. */
export function reviewed(marker: string, overrides: Record<string, unknown> = {}): Stored {
  minute += 1;
  const at = new Date(Date.UTC(2026, 3, 7, 15, minute)).toISOString();
  return {
    id: `cand-${marker}`,
    source: "cf-orch-benchmark",
    timestamp: at,
    status: "approved",
    prompt_messages: [
      { role: "system", content: "Answer briefly." },
      { role: "user", content: `Question about ${marker}?` },
    ],
    model_response: `Wrong answer about ${marker}.`,
    corrected_response: `Right answer about ${marker}.`,
    failure_category: "wrong_answer",
    task_type: "qa",
    model_name: "model-a",
    version: 2,
    provenance: {
      source: "benchmark",
      channel: "s3-upload",
      model: "model-a",
      captured_at: at,
      source_run_id: "run-export",
      key: "runs/run-export/sft_candidates.jsonl",
      line: minute,
      approved: true,
      approved_by: "reviewer@example.com",
      approved_at: at,
    },
    ...overrides,
  };
}

/** Not approved: no correction, and provenance without the approver (as a decision or undo leaves it). */
const excluded = (status: string) => ({
  status,
  corrected_response: null,
  provenance: {
    source: "benchmark",
    channel: "s3-upload",
    model: "model-a",
    captured_at: "2026-04-07T15:00:00.000Z",
    source_run_id: "run-export",
    key: "runs/run-export/sft_candidates.jsonl",
    line: 50,
    approved: false,
    ...(status === "needs_review" ? {} : { excluded: true, exclusion_reason: status }),
  },
});

type Expectation = "exported" | ExclusionReason | { reason: "trainer_rule"; rule: TrainerRule };

export interface SeededCandidate {
  readonly candidate: Stored;
  /** What the firewall must decide, per format (the default first, then the formats that differ). */
  readonly expect: { readonly default: Expectation } & Partial<Record<ExportFormat, Expectation>>;
}

const PAIRS = ["openai-preference", "trl-dpo", "trl-kto"] as const;
const pairs = (expectation: Expectation) => Object.fromEntries(PAIRS.map((format) => [format, expectation]));

/**
 * A store with every status and every fault the firewall knows, in time order, with what each
 * format must do with each record when `scoring_artifact` is excluded.
 */
export function seededMix(): SeededCandidate[] {
  minute = 0;
  const clean1 = reviewed("clean-1");
  return [
    { candidate: clean1, expect: { default: "exported" } },
    {
      candidate: reviewed("clean-2", { failure_category: "hallucination" }),
      expect: { default: "exported" },
    },
    { candidate: reviewed("clean-3", { failure_category: null }), expect: { default: "exported" } },
    { candidate: reviewed("unreviewed", excluded("needs_review")), expect: { default: "status_disallowed" } },
    { candidate: reviewed("discarded", excluded("discarded")), expect: { default: "status_disallowed" } },
    { candidate: reviewed("flagged", excluded("model_rejected")), expect: { default: "status_disallowed" } },
    {
      candidate: reviewed("scoring", { failure_category: "scoring_artifact" }),
      expect: { default: "category_disallowed" },
    },
    {
      candidate: reviewed("no-provenance", { provenance: undefined }),
      expect: { default: "missing_provenance" },
    },
    {
      candidate: reviewed("half-provenance", {
        provenance: {
          source: "benchmark",
          channel: "s3-upload",
          captured_at: "2026-04-07T15:00:00.000Z",
          source_run_id: "run-export",
          key: "runs/run-export/sft_candidates.jsonl",
          line: 99,
        },
      }),
      expect: { default: "missing_provenance" },
    },
    {
      candidate: reviewed("blank-correction", { corrected_response: "  \n " }),
      expect: { default: "empty_content" },
    },
    {
      candidate: reviewed("no-prompt", { prompt_messages: [] }),
      expect: { default: "empty_content", rag: "exported" },
    },
    {
      candidate: reviewed("bad-prompt", { prompt_messages: "just a string" }),
      expect: { default: "schema_violation", rag: "exported" },
    },
    {
      candidate: reviewed("same-answer", {
        model_response: "Right answer about same-answer.",
        corrected_response: "  right ANSWER about   same-answer. ",
      }),
      expect: { default: "exported", ...pairs("self_pairing") },
    },
    {
      candidate: reviewed("blank-answer", { model_response: null }),
      expect: { default: "exported", ...pairs("empty_content") },
    },
    {
      candidate: reviewed("reserved", {
        prompt_messages: [{ role: "user", content: "User: hello\nBot: hi. What about reserved?" }],
      }),
      expect: {
        default: "exported",
        "bedrock-conversation": { reason: "trainer_rule", rule: "bedrock_reserved_string" },
      },
    },
    {
      candidate: reviewed("assistant-first", {
        prompt_messages: [
          { role: "assistant", content: "How can I help?" },
          { role: "user", content: "Question about assistant-first?" },
        ],
      }),
      expect: { default: { reason: "trainer_rule", rule: "first_turn_not_user" }, rag: "exported" },
    },
    {
      candidate: reviewed("tool-role", {
        prompt_messages: [
          { role: "user", content: "Question about tool-role?" },
          { role: "tool", content: "42" },
        ],
      }),
      expect: { default: { reason: "trainer_rule", rule: "unsupported_role" }, rag: "exported" },
    },
    {
      candidate: reviewed("assistant-last", {
        prompt_messages: [
          { role: "user", content: "Question about assistant-last?" },
          { role: "assistant", content: "Partial reply." },
        ],
      }),
      expect: {
        default: "exported",
        "bedrock-conversation": { reason: "trainer_rule", rule: "turns_not_alternating" },
      },
    },
    {
      candidate: reviewed("duplicate", {
        prompt_messages: [
          { role: "system", content: "answer   briefly." },
          { role: "user", content: "QUESTION about clean-1?" },
        ],
        corrected_response: "Right answer about clean-1.\n",
      }),
      expect: { default: "duplicate_content" },
    },
  ];
}

export function expectationFor(seeded: SeededCandidate, format: ExportFormat): Expectation {
  return seeded.expect[format] ?? seeded.expect.default;
}
