import { countMetric } from "../common/metrics.ts";
import { CORRECTION_FAULTS } from "./domain/correction.ts";

/** Why a correction was refused: a quarantine fault (queue) or an HTTP refusal. */
export const CORRECTION_REFUSALS = [...CORRECTION_FAULTS, "unauthorized"] as const;
export type CorrectionRefusal = (typeof CORRECTION_REFUSALS)[number];

/** What ingesting counts, over the queue and over HTTP alike. */
export const INGEST_METRICS = {
  /** Corrections stored as new approved records. */
  ingested: countMetric("CorrectionsIngested", "ingest"),
  /** Deliveries of a correction stored before (a retry, a redelivery): nothing changed. */
  duplicates: countMetric("CorrectionsAlreadyIngested", "ingest"),
  /** Corrections refused (quarantined from the queue, or answered 4xx), by reason. */
  refused: countMetric("CorrectionsRefused", "ingest", { name: "reason", values: CORRECTION_REFUSALS }),
} as const;
