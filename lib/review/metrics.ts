import { REVIEW_ACTIONS } from "../common/domain/vocabulary.ts";
import { countMetric } from "../common/metrics.ts";

/** What reviewing counts: decisions by action and undos, one by one and in bulk alike. */
export const REVIEW_METRICS = {
  /** Decisions recorded, by action (`correct`, `discard`, `flag`). */
  decisions: countMetric("Decisions", "review", { name: "action", values: REVIEW_ACTIONS }),
  /** Decisions taken back. */
  undos: countMetric("Undos", "review"),
} as const;
