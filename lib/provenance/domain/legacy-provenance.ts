import * as z from "zod";
import type { BackfillDefaults, ProvenanceFill, ProvenanceVerdict } from "../../common/domain/provenance.ts";

/**
 * The provenance tracker Flywheel replaces wrote its own block in training-pair files: `source`
 * one of `trajectory`, `curated` or `backfill` (where the pair came from, not which product),
 * `timestamp` for when it was captured, `source_session_id` for a trajectory's session, an
 * `approved` flag on every pair and an `exclusion_reason` on every excluded one, and no `channel`.
 * Its files keep validating and backfilling under its own rules; Flywheel's records (which always
 * carry a `channel`) keep theirs.
 */

export const LEGACY_SOURCES = ["trajectory", "curated", "backfill"] as const;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === "object" && !Array.isArray(value);
const isAbsent = (value: unknown) =>
  value === undefined || value === null || (typeof value === "string" && value.trim() === "");
const time = z.iso.datetime({ offset: true });

/**
 * A block of the old tracker's format: no `channel` (every Flywheel block has one), and the old
 * tracker's `timestamp` or one of its `source` values.
 */
export function isLegacyProvenance(block: unknown): block is Record<string, unknown> {
  if (!isRecord(block) || !isAbsent(block.channel)) return false;
  return (
    !isAbsent(block.timestamp) || (LEGACY_SOURCES as readonly unknown[]).includes(block.source as unknown)
  );
}

/** The block with the old names read as Flywheel's: `timestamp` is `captured_at` when that is absent. */
export function withProvenanceAliases(block: unknown): unknown {
  if (!isRecord(block) || !isAbsent(block.captured_at) || isAbsent(block.timestamp)) return block;
  return { ...block, captured_at: block.timestamp };
}

/**
 * The old tracker's rules: `source`, `model` and a capture time (`timestamp` or `captured_at`, ISO
 * 8601) present; `approved` present as a boolean, and not false on a pair whose status is
 * `approved`; an excluded pair names its `exclusion_reason`; `source_session_id`, when given, is
 * not blank. Flywheel's per-channel origins and approver fields are not asked of these files.
 */
export function validateLegacyProvenance(block: Record<string, unknown>, status?: string): ProvenanceVerdict {
  const missing: string[] = [];
  const errors: string[] = [];
  const require = (field: string, present: boolean) => {
    if (!present) {
      missing.push(field);
      errors.push(`${field}: is required`);
    }
  };
  require("source", !isAbsent(block.source));
  require("model", !isAbsent(block.model));
  const captured = isAbsent(block.captured_at) ? block.timestamp : block.captured_at;
  require("timestamp", !isAbsent(captured));
  if (!isAbsent(captured) && !time.safeParse(captured).success) {
    errors.push(
      `${isAbsent(block.captured_at) ? "timestamp" : "captured_at"}: must be an ISO 8601 date-time`,
    );
  }
  require("approved", block.approved !== undefined && block.approved !== null);
  if (block.approved !== undefined && block.approved !== null && typeof block.approved !== "boolean") {
    errors.push("approved: must be true or false");
  }
  if (status === "approved" && block.approved === false) {
    errors.push("approved: must not be false when the record is approved");
  }
  if (block.excluded === true && isAbsent(block.exclusion_reason)) {
    missing.push("exclusion_reason");
    errors.push("exclusion_reason: is required when the pair is excluded");
  }
  if (block.source_session_id !== undefined && isAbsent(block.source_session_id)) {
    errors.push("source_session_id: must not be blank");
  }
  for (const field of ["source", "model"]) {
    if (!isAbsent(block[field]) && typeof block[field] !== "string")
      errors.push(`${field}: must be a string`);
  }
  return errors.length === 0 ? { valid: true } : { valid: false, missing, errors };
}

/**
 * Backfill of an old tracker's block: fills `source` and `model` when absent, a capture time only
 * when it has neither `timestamp` nor `captured_at` (an existing time is always kept, under its
 * old name), and `approved` from the pair's status when absent. It adds no `channel`, so the
 * block stays in its format; the fill is marked as Flywheel's backfill marks it.
 */
export function planLegacyProvenanceFill(
  block: Record<string, unknown>,
  status: string | undefined,
  defaults: BackfillDefaults,
  context: { readonly at: Date; readonly by: string },
): ProvenanceFill | null {
  const at = context.at.toISOString();
  const fields: Record<string, unknown> = {};
  const offer = (field: string, value: unknown) => {
    if (isAbsent(block[field])) fields[field] = value;
  };
  offer("source", defaults.source);
  offer("model", defaults.model);
  if (isAbsent(block.timestamp) && isAbsent(block.captured_at)) fields.timestamp = at;
  if ((block.approved === undefined || block.approved === null) && status !== undefined) {
    fields.approved = status === "approved";
  }
  const filled = Object.keys(fields);
  if (filled.length === 0) return null;
  const earlier = Array.isArray(block.backfilled_fields) ? block.backfilled_fields : [];
  const marks = { backfilled: true, backfilled_at: at, backfilled_by: context.by };
  return {
    fields: { ...fields, ...marks },
    filled,
    createsBlock: false,
    provenance: { ...block, ...fields, ...marks, backfilled_fields: [...earlier, ...filled] },
  };
}
