import type { Candidate } from "../../common/domain/candidate.ts";
import { ConflictError, PayloadTooLargeError, ValidationError } from "../../common/domain/errors.ts";
import { validateProvenance } from "../../common/domain/provenance.ts";
import { type Metrics, metrics } from "../../common/metrics.ts";
import { excerpt } from "../../import/domain/run-line.ts";
import {
  type CorrectionFault,
  type CorrectionMessage,
  type CorrectionOrigin,
  candidateFromCorrection,
  classifyCorrection,
  earlierRecordId,
  type SourceDefaults,
} from "../domain/correction.ts";
import { INGEST_METRICS } from "../metrics.ts";
import type { CorrectionStore, IngestQuarantine } from "../ports.ts";

export interface IngestCorrectionDeps {
  readonly corrections: CorrectionStore;
  readonly quarantine: IngestQuarantine;
  readonly now?: () => Date;
  /** Queue senders bound to their sources (SQS sender id → sources); absent, any sender may send. */
  readonly senders?: Readonly<Record<string, readonly string[]>>;
  /** What each source's messages may leave out (its model): filled in, and noted in provenance. */
  readonly sourceDefaults?: SourceDefaults;
  /** Where corrections ingested, already ingested and refused (by reason) are counted; the process's metrics unless given. */
  readonly metrics?: Metrics;
}

/** Bodies above this are refused unread: SQS itself carries at most 1 MiB. */
export const MAX_CORRECTION_BYTES = 1024 * 1024;
/** Characters of a refused body kept in its quarantine entry. */
export const QUARANTINE_RAW_CHARS = 8_000;

/** The record would not fit in the table even with its prompt and answer moved to the body store. */
export class CorrectionTooLargeError extends PayloadTooLargeError {}

/** An idempotency key already stored with other content: a conflict, not a retry. */
export class IdempotencyConflictError extends ConflictError {}

/** The store refused what the record holds (a key or value past one of its limits). */
export class CorrectionUnstorableError extends ValidationError {}

export type IngestOutcome = {
  readonly status: "ingested" | "already_ingested";
  readonly id: string;
  /**
   * What keeps the record out of exports though it is stored: each provenance problem (a model
   * neither sent nor configured for the source). Empty for a traceable record.
   */
  readonly warnings: readonly string[];
};

/**
 * Stores a validated correction as an approved record, once: a redelivery, or another message
 * with the same source and idempotency key, returns the id of the record already stored.
 */
export async function ingestCorrection(
  deps: IngestCorrectionDeps,
  message: CorrectionMessage,
  origin: CorrectionOrigin,
): Promise<IngestOutcome> {
  const now = deps.now ?? (() => new Date());
  const candidate = candidateFromCorrection(message, origin, now().toISOString(), deps.sourceDefaults);
  const warnings = provenanceWarnings(candidate);
  const earlier = await storedUnderEarlierId(deps, message, origin);
  if (earlier) {
    refuseConflict(message, earlier.id, earlier.stored.fingerprint, candidate.correction_sha256);
    metricsOf(deps).count(INGEST_METRICS.duplicates);
    return { status: "already_ingested", id: earlier.id, warnings };
  }
  const stored = await deps.corrections.insertIfAbsent(candidate);
  if (stored === "too_large") {
    throw new CorrectionTooLargeError(`record ${candidate.id} does not fit in an item`);
  }
  if (stored === "already_stored" && message.idempotency_key) {
    const fingerprint = (await deps.corrections.storedCorrection(candidate.id))?.fingerprint;
    refuseConflict(message, candidate.id, fingerprint ?? null, candidate.correction_sha256);
  }
  metricsOf(deps).count(stored === "inserted" ? INGEST_METRICS.ingested : INGEST_METRICS.duplicates);
  return { status: stored === "inserted" ? "ingested" : "already_ingested", id: candidate.id, warnings };
}

const metricsOf = (deps: Pick<IngestCorrectionDeps, "metrics">): Metrics => deps.metrics ?? metrics;

/** The record's provenance problems, each saying what to send or configure. */
function provenanceWarnings(candidate: Candidate): string[] {
  const verdict = validateProvenance(candidate);
  if (verdict.valid) return [];
  return verdict.errors.map((error) =>
    error.startsWith("model:")
      ? `provenance ${error}: send "model", or configure a default model for source ${JSON.stringify(candidate.source)}; until then exports keep this record out (missing_provenance)`
      : `provenance ${error}; until it is filled in exports keep this record out (missing_provenance)`,
  );
}

/** A different correction under a used key is a conflict, never silently the first one. */
function refuseConflict(message: CorrectionMessage, id: string, stored: string | null, incoming: unknown) {
  if (message.idempotency_key && stored && stored !== incoming) {
    throw new IdempotencyConflictError(
      `Idempotency key ${message.idempotency_key} of ${message.source} was used before for a different correction (record ${id})`,
    );
  }
}

/**
 * The record this very correction was stored as under the id scheme before (only sources holding
 * a newline changed ids): the same source and key, or the same delivery.
 */
async function storedUnderEarlierId(
  deps: IngestCorrectionDeps,
  message: CorrectionMessage,
  origin: CorrectionOrigin,
) {
  const id = earlierRecordId(message.source, message.idempotency_key, origin.deliveryId);
  if (!id) return null;
  const stored = await deps.corrections.storedCorrection(id);
  if (!stored || stored.source !== message.source) return null;
  if ((stored.idempotencyKey ?? null) !== (message.idempotency_key ?? null)) return null;
  return { id, stored };
}

/** One message of the corrections queue. */
export interface CorrectionDelivery {
  readonly messageId: string;
  readonly body: string;
  readonly principal: string;
  readonly receivedAt: string;
}

export type DeliveryOutcome =
  | IngestOutcome
  | { readonly status: "quarantined"; readonly reason: CorrectionFault; readonly key: string };

/**
 * Ingests one queued message. A message that can never succeed (too big, not JSON, refused by the
 * schema, a record too large to store) is quarantined and reported as settled, so it is
 * acknowledged; any other failure throws, so the message is retried.
 */
export async function ingestCorrectionDelivery(
  deps: IngestCorrectionDeps,
  delivery: CorrectionDelivery,
): Promise<DeliveryOutcome> {
  const now = deps.now ?? (() => new Date());
  const quarantine = async (reason: CorrectionFault, detail: string): Promise<DeliveryOutcome> => {
    const key = await deps.quarantine.put({
      message_id: delivery.messageId,
      channel: "sqs",
      reason,
      detail,
      received_at: delivery.receivedAt,
      quarantined_at: now().toISOString(),
      raw: excerpt(delivery.body, QUARANTINE_RAW_CHARS),
      raw_bytes: Buffer.byteLength(delivery.body),
    });
    metricsOf(deps).count(INGEST_METRICS.refused, 1, reason);
    return { status: "quarantined", reason, key };
  };

  const bytes = Buffer.byteLength(delivery.body);
  if (bytes > MAX_CORRECTION_BYTES) {
    return quarantine("too_large", `${bytes} bytes, above the limit of ${MAX_CORRECTION_BYTES}`);
  }
  const verdict = classifyCorrection(delivery.body);
  if (!verdict.ok) return quarantine(verdict.reason, verdict.detail);
  if (!mayIngestFor(deps.senders, delivery.principal, verdict.message.source)) {
    return quarantine(
      "forbidden_source",
      `${delivery.principal} may not ingest corrections for ${JSON.stringify(verdict.message.source)}`,
    );
  }
  try {
    return await ingestCorrection(deps, verdict.message, {
      channel: "sqs",
      deliveryId: delivery.messageId,
      principal: delivery.principal,
      receivedAt: delivery.receivedAt,
    });
  } catch (error) {
    if (error instanceof CorrectionTooLargeError) return quarantine("item_too_large", error.message);
    if (error instanceof CorrectionUnstorableError) return quarantine("invalid_field", error.message);
    if (error instanceof IdempotencyConflictError) return quarantine("idempotency_conflict", error.message);
    throw error;
  }
}

/**
 * Whether the queue sender (`sqs:<sender id>`) may ingest for `source`: a sender is named by its
 * id, or by the role id before the `:` of a role session's id.
 */
export function mayIngestFor(
  senders: Readonly<Record<string, readonly string[]>> | undefined,
  principal: string,
  source: string,
): boolean {
  if (!senders) return true;
  const senderId = principal.replace(/^sqs:/, "");
  const allowed = senders[senderId] ?? senders[senderId.split(":")[0] ?? ""] ?? [];
  return allowed.includes(source);
}
