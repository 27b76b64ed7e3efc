import { countMetric } from "../common/metrics.ts";
import { EXCLUSION_REASONS } from "./domain/export-firewall.ts";

/** What exporting counts, per export written (dry runs write nothing and count nothing). */
export const EXPORT_METRICS = {
  /** Exports written. */
  exports: countMetric("ExportsWritten", "exports"),
  /** Candidates written to a dataset. */
  records: countMetric("ExportRecords", "exports"),
  /** Candidates the firewall kept out, by exclusion reason. */
  quarantined: countMetric("ExportRecordsQuarantined", "exports", {
    name: "reason",
    values: EXCLUSION_REASONS,
  }),
} as const;
