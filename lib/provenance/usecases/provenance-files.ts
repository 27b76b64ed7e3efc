import {
  type BackfillDefaults,
  planProvenanceFill,
  validateProvenance,
} from "../../common/domain/provenance.ts";
import {
  isLegacyProvenance,
  planLegacyProvenanceFill,
  validateLegacyProvenance,
  withProvenanceAliases,
} from "../domain/legacy-provenance.ts";

/**
 * JSONL files of training pairs kept outside the store: each line a JSON object, its provenance
 * (when it has one) under `provenance`, its review state (when it has one) under `status`. Both
 * functions read line by line, so memory stays flat whatever the size of the file. A block in the
 * old provenance tracker's format (`lib/provenance/domain/legacy-provenance.ts`) is checked and
 * filled by that tracker's rules; in any block the old name `timestamp` reads as `captured_at`.
 */

export interface FileValidation {
  readonly valid: number;
  readonly invalid: number;
  readonly errors: { readonly line: number; readonly errors: readonly string[] }[];
}

/** Validates every non-blank line of a file against the provenance schema. */
export async function validateProvenanceLines(lines: AsyncIterable<string>): Promise<FileValidation> {
  let valid = 0;
  let invalid = 0;
  const errors: FileValidation["errors"] = [];
  let number = 0;
  for await (const text of lines) {
    number += 1;
    if (text.trim() === "") continue;
    const parsed = parseObject(text);
    const problems = "error" in parsed ? [parsed.error] : verdictErrors(parsed.value);
    if (problems.length === 0) valid += 1;
    else {
      invalid += 1;
      errors.push({ line: number, errors: problems });
    }
  }
  return { valid, invalid, errors };
}

export interface FileBackfill {
  readonly lines: number;
  /** Lines that got provenance filled in. */
  readonly changed: number;
  /** Lines written as they were: nothing was missing that backfill could fill. */
  readonly unchanged: number;
  /** Lines copied as they were because they are not JSON objects. */
  readonly skipped: { readonly line: number; readonly error: string }[];
}

/**
 * Copies a file line by line to `write`, filling in the provenance each line misses, never a
 * field it has (see `planProvenanceFill`). Lines that need nothing are copied byte for byte;
 * lines that are not JSON objects too, and are reported, so the output keeps the input's lines.
 */
export async function backfillProvenanceLines(
  lines: AsyncIterable<string>,
  write: (line: string) => Promise<void>,
  defaults: BackfillDefaults,
  context: { readonly at: Date; readonly by: string },
): Promise<FileBackfill> {
  let total = 0;
  let changed = 0;
  let unchanged = 0;
  const skipped: FileBackfill["skipped"] = [];
  let number = 0;
  for await (const text of lines) {
    number += 1;
    if (text.trim() === "") {
      await write(text);
      continue;
    }
    total += 1;
    const parsed = parseObject(text);
    if ("error" in parsed) {
      skipped.push({ line: number, error: parsed.error });
      await write(text);
      continue;
    }
    const record = parsed.value;
    const status = typeof record.status === "string" ? record.status : undefined;
    const plan = isLegacyProvenance(record.provenance)
      ? planLegacyProvenanceFill(record.provenance, status, defaults, context)
      : planProvenanceFill(
          {
            // An existing time under its old name is kept: `captured_at` is not missing.
            provenance: withProvenanceAliases(record.provenance),
            status,
            reviewer: record.reviewer,
            decided_at: record.decided_at,
          },
          defaults,
          context,
        );
    if (!plan) {
      unchanged += 1;
      await write(text);
      continue;
    }
    changed += 1;
    // Only what was filled is added: an aliased `captured_at` is not written beside `timestamp`.
    const block = plan.createsBlock ? {} : (record.provenance as Record<string, unknown>);
    const { backfilled_fields: _list, ...fields } = plan.fields as Record<string, unknown>;
    const filledFields = plan.provenance.backfilled_fields;
    await write(
      JSON.stringify({ ...record, provenance: { ...block, ...fields, backfilled_fields: filledFields } }),
    );
  }
  return { lines: total, changed, unchanged, skipped };
}

function verdictErrors(record: Record<string, unknown>): string[] {
  const status = typeof record.status === "string" ? record.status : undefined;
  const verdict = isLegacyProvenance(record.provenance)
    ? validateLegacyProvenance(record.provenance, status)
    : validateProvenance({ provenance: withProvenanceAliases(record.provenance), status });
  return verdict.valid ? [] : verdict.errors;
}

function parseObject(text: string): { value: Record<string, unknown> } | { error: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { error: `invalid JSON: ${(error as Error).message}` };
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return { error: "not a JSON object" };
  }
  return { value: value as Record<string, unknown> };
}
