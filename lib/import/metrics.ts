import { countMetric } from "../common/metrics.ts";
import { QUARANTINE_REASONS } from "./domain/run-line.ts";

/** What an import counts: per invocation, what it stored, skipped and quarantined (by reason). */
export const IMPORT_METRICS = {
  /** Candidates stored as new. */
  imported: countMetric("CandidatesImported", "import"),
  /** Lines whose candidate was stored already (a re-upload, a redelivery). */
  skipped: countMetric("CandidatesSkipped", "import"),
  /** Lines quarantined, by quarantine reason. */
  quarantined: countMetric("LinesQuarantined", "import", { name: "reason", values: QUARANTINE_REASONS }),
} as const;
