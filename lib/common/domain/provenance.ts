import * as z from "zod";

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
  defaults_applied: z.array(z.string()).nullish(),
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
  backfilled_by: text.nullish(),
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
  // The old tracker's rule, restored: an excluded record says why (every decision writes one).
  if (provenance.excluded === true && isAbsent(provenance.exclusion_reason)) {
    missing.push("exclusion_reason");
    errors.push("exclusion_reason: is required when the record is excluded");
  }
  return errors.length === 0 ? { valid: true } : { valid: false, missing, errors };
}

function requiredError(field: string): string {
  return `${field}: is required`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

/** What a backfill may fill in: given by whoever vouches for the records' origin. */
export interface BackfillDefaults {
  readonly source: string;
  readonly model: string;
}

/** A record as backfill sees it: its block, status, and who decided it (when someone did). */
export interface BackfillSubject extends ProvenanceSubject {
  readonly reviewer?: unknown;
  readonly decided_at?: unknown;
}

/** The fields a backfill adds to one record's provenance; never one the record already has. */
export interface ProvenanceFill {
  /** Field → value, each to be written only where the block lacks it (absent, `null` or blank). */
  readonly fields: Readonly<Record<string, unknown>>;
  /** The names of the filled fields, apart from the backfill marks, appended to `backfilled_fields`. */
  readonly filled: readonly string[];
  /** The record has no block at all: the fill creates it. */
  readonly createsBlock: boolean;
  /** The block as it will be after the fill. */
  readonly provenance: Record<string, unknown>;
}

/**
 * Plans the backfill of one record: every missing field backfill can know is filled, existing
 * values are kept as they are. The channel becomes `backfill` only when the record has none; an
 * approved record without its approver gets the reviewer recorded on it (or, for an ingested
 * record, its sender; else whoever runs the backfill). Returns `null` when nothing is missing
 * that backfill could fill, so running it again changes nothing.
 */
export function planProvenanceFill(
  subject: BackfillSubject,
  defaults: BackfillDefaults,
  context: { readonly at: Date; readonly by: string },
): ProvenanceFill | null {
  const block = isRecord(subject.provenance) ? subject.provenance : null;
  const current = block ?? {};
  const at = context.at.toISOString();
  const fields: Record<string, unknown> = {};
  const offer = (field: string, value: unknown) => {
    if (isAbsent(current[field]) && !isAbsent(value)) fields[field] = value;
  };
  offer("source", defaults.source);
  offer("channel", "backfill");
  offer("model", defaults.model);
  offer("captured_at", at);
  if (subject.status === "approved") {
    if (current.approved === undefined || current.approved === null) offer("approved", true);
    offer("approved_by", textOf(subject.reviewer) ?? textOf(current.principal) ?? context.by);
    offer("approved_at", timeOf(subject.decided_at) ?? timeOf(current.captured_at) ?? at);
  }
  if ((current.channel ?? fields.channel) === "backfill") offer("backfilled_at", at);
  const filled = Object.keys(fields);
  if (filled.length === 0) return null;
  offer("backfilled", true);
  offer("backfilled_at", at);
  offer("backfilled_by", context.by);
  const earlier = Array.isArray(current.backfilled_fields) ? current.backfilled_fields : [];
  return {
    fields,
    filled,
    createsBlock: block === null,
    provenance: { ...current, ...fields, backfilled_fields: [...earlier, ...filled] },
  };
}

const textOf = (value: unknown) => (typeof value === "string" && value.trim() !== "" ? value : null);
const timeOf = (value: unknown) => (time.safeParse(value).success ? (value as string) : null);
