import { z } from "zod";

/**
 * Provenance: where a training record came from, which model produced the answer being corrected,
 * and who approved or excluded it and when. Every entry path fills the block; later writes only
 * add review facts to it. One schema decides whether a record is traceable, for the report, the
 * validate listing, backfill and the export firewall alike.
 */

export const PROVENANCE_CHANNELS = ["s3-upload", "sqs", "http", "eval", "backfill"] as const;
export const ProvenanceChannel = z.enum(PROVENANCE_CHANNELS);
export type ProvenanceChannel = z.infer<typeof ProvenanceChannel>;

/** Required of every record, whatever its channel. */
export const REQUIRED_PROVENANCE_FIELDS = ["source", "channel", "model", "captured_at"] as const;

/** The origin each channel must name, as the entry paths write it. */
export const REQUIRED_ORIGIN_FIELDS = {
  "s3-upload": ["source_run_id", "key", "line"],
  sqs: ["message_id"],
  http: ["request_id", "principal"],
  eval: ["source_session_id", "message_index"],
  backfill: ["backfilled_at"],
} as const satisfies Record<ProvenanceChannel, readonly string[]>;

/** Review facts an approved record must carry: who approved the fix, and when. */
export const REQUIRED_WHEN_APPROVED = ["approved_by", "approved_at"] as const;

const text = z.string().trim().min(1, "must not be blank");
const time = z.iso.datetime({ offset: true });

/** Known fields that no channel requires: type-checked when present, `null` reads as absent. */
const optionalFields = {
  // s3-upload
  bucket: text.nullish(),
  etag: text.nullish(),
  import_id: text.nullish(),
  // sqs / http
  principal: text.nullish(),
  received_at: time.nullish(),
  // review facts
  approved: z.boolean().nullish(),
  approved_by: text.nullish(),
  approved_at: time.nullish(),
  excluded: z.boolean().nullish(),
  exclusion_reason: text.nullish(),
  excluded_by: text.nullish(),
  excluded_at: time.nullish(),
  // backfill marks
  backfilled: z.boolean().nullish(),
  backfilled_at: time.nullish(),
  backfilled_fields: z.array(z.string()).nullish(),
};

const common = {
  ...optionalFields,
  source: text,
  model: text,
  captured_at: time,
};

const S3UploadProvenance = z.looseObject({
  ...common,
  channel: z.literal("s3-upload"),
  source_run_id: text,
  key: text,
  line: z.number().int().min(1),
});
const SqsProvenance = z.looseObject({ ...common, channel: z.literal("sqs"), message_id: text });
const HttpProvenance = z.looseObject({
  ...common,
  channel: z.literal("http"),
  request_id: text,
  principal: text,
});
const EvalProvenance = z.looseObject({
  ...common,
  channel: z.literal("eval"),
  source_session_id: text,
  message_index: z.number().int().min(0),
});
const BackfillProvenance = z.looseObject({ ...common, channel: z.literal("backfill"), backfilled_at: time });

/** A complete provenance block: the common fields plus the origin its channel requires. */
export const ProvenanceRecord = z.discriminatedUnion("channel", [
  S3UploadProvenance,
  SqsProvenance,
  HttpProvenance,
  EvalProvenance,
  BackfillProvenance,
]);
export type ProvenanceRecord = z.infer<typeof ProvenanceRecord>;

const CHANNEL_SCHEMAS = {
  "s3-upload": S3UploadProvenance,
  sqs: SqsProvenance,
  http: HttpProvenance,
  eval: EvalProvenance,
  backfill: BackfillProvenance,
} as const satisfies Record<ProvenanceChannel, z.ZodType>;

/** The common fields alone, for a block whose channel is missing or unknown. */
const CommonProvenance = z.looseObject({ ...common, channel: z.unknown() });

export type ProvenanceVerdict =
  | { readonly valid: true }
  | {
      readonly valid: false;
      /** Required fields that are absent, `null` or blank, by their name inside the block. */
      readonly missing: string[];
      /** One line per problem: every missing field and every present field of the wrong type. */
      readonly errors: string[];
    };

/** The record as validation sees it: its provenance block and its review status. */
export interface ProvenanceSubject {
  readonly provenance?: unknown;
  readonly status?: string | null;
}

const isAbsent = (value: unknown) =>
  value === undefined || value === null || (typeof value === "string" && value.trim() === "");

const isChannel = (value: unknown): value is ProvenanceChannel =>
  (PROVENANCE_CHANNELS as readonly unknown[]).includes(value);

/** The fields `subject` must have, given its channel (when known) and status. */
export function requiredProvenanceFields(subject: ProvenanceSubject): string[] {
  const block = isRecord(subject.provenance) ? subject.provenance : {};
  return [
    ...REQUIRED_PROVENANCE_FIELDS,
    ...(isChannel(block.channel) ? REQUIRED_ORIGIN_FIELDS[block.channel] : []),
    ...(subject.status === "approved" ? REQUIRED_WHEN_APPROVED : []),
  ];
}

/**
 * Checks a record's provenance against the schema for its channel (and, for an approved record,
 * that it names who approved it and when). A failing record names the exact fields it misses.
 */
export function validateProvenance(subject: ProvenanceSubject): ProvenanceVerdict {
  const { provenance } = subject;
  if (!isRecord(provenance)) {
    const missing = requiredProvenanceFields({ status: subject.status });
    const found = provenance === undefined || provenance === null ? "is missing" : "must be an object";
    return { valid: false, missing, errors: [`provenance: ${found}`, ...missing.map(requiredError)] };
  }

  const missing = requiredProvenanceFields(subject).filter((field) => isAbsent(provenance[field]));
  const errors = missing.map(requiredError);
  const { channel } = provenance;
  if (!isAbsent(channel) && !isChannel(channel)) {
    errors.push(`channel: must be one of ${PROVENANCE_CHANNELS.join(", ")}`);
  }
  const schema = isChannel(channel) ? CHANNEL_SCHEMAS[channel] : CommonProvenance;
  const parsed = schema.safeParse(provenance);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const field = String(issue.path[0] ?? "provenance");
      if (missing.includes(field)) continue;
      errors.push(`${issue.path.map(String).join(".") || "provenance"}: ${issue.message}`);
    }
  }
  if (subject.status === "approved" && provenance.approved === false) {
    errors.push("approved: must not be false when the record is approved");
  }
  return errors.length === 0 ? { valid: true } : { valid: false, missing, errors };
}

function requiredError(field: string): string {
  return `${field}: is required`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
