import {
  CANDIDATE_STATUSES,
  type Candidate,
  newCandidateFromLine,
} from "../../lib/common/domain/candidate.ts";

const MODELS = ["model-a", "model-b", "model-c"] as const;
const TASKS = ["arithmetic", "coding"] as const;

/**
 * `count` candidates of every shape the counters tell apart: each status, approved with and
 * without a correction, with full, partial and no provenance, models and task types in turn.
 */
export function variedCandidates(count: number, prefix = "recount"): Candidate[] {
  return Array.from({ length: count }, (_, i) => {
    const model = MODELS[i % MODELS.length] as string;
    const base = newCandidateFromLine(
      {
        id: `${prefix}-${String(i).padStart(5, "0")}`,
        timestamp: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(),
        prompt_messages: [{ role: "user", content: `question ${i}` }],
        model_response: `answer ${i}`,
        task_type: i % 7 === 3 ? null : TASKS[i % TASKS.length],
        model_name: model,
      },
      {
        source: i % 5 === 0 ? "rig-b" : "rig-a",
        channel: "s3-upload",
        model,
        captured_at: "2026-01-01T00:00:00.000Z",
        source_run_id: `${prefix}-run`,
        key: `runs/${prefix}-run/sft_candidates.jsonl`,
        line: i + 1,
      },
    );
    const status = CANDIDATE_STATUSES[i % CANDIDATE_STATUSES.length] as Candidate["status"];
    const approved = status === "approved";
    const provenance =
      i % 13 === 6
        ? // No provenance at all, as a record stored before it existed: counted under `unknown`.
          undefined
        : i % 11 === 4
          ? // Provenance missing a required field: counted as missing, under its source and model.
            { ...base.provenance, captured_at: "" }
          : approved
            ? {
                ...base.provenance,
                approved: true,
                approved_by: "reviewer@example.com",
                approved_at: "2026-01-02T00:00:00.000Z",
              }
            : base.provenance;
    return {
      ...base,
      status,
      // Every third approved candidate has a blank correction: approved, yet not export-ready.
      corrected_response: approved ? (i % 3 === 0 ? " " : `right ${i}`) : null,
      provenance: provenance as unknown as Candidate["provenance"],
    };
  });
}
