import type { Candidate } from "../common/domain/candidate.ts";
import type { CorrectionFault } from "./domain/correction.ts";

/**
 * The ports of this capability: what its use cases need from the outside world, each implemented
 * by an adapter (DynamoDB, S3, SQS, an LLM) and by an in-memory fake in the tests.
 */
export interface CorrectionStore {
  /**
   * Stores `candidate` unless a record with its id exists, moving the stats counters in the same
   * write. `already_stored` leaves the stored record and the counters as they were; `too_large`
   * means the record cannot be stored at all. Passing failures (throttling, network) throw.
   */
  insertIfAbsent(candidate: Candidate): Promise<"inserted" | "already_stored" | "too_large">;
  /** What identifies the stored record `id` as a correction; `undefined` when there is none. */
  storedCorrection(id: string): Promise<StoredCorrection | undefined>;
}

export interface StoredCorrection {
  /** Its content fingerprint (`correction_sha256`); `null` for a record stored before they were kept. */
  readonly fingerprint: string | null;
  readonly source: string | null;
  readonly idempotencyKey: string | null;
}

/** A message that can never be ingested, kept with why and where it came from. */
export interface IngestQuarantineEntry {
  readonly message_id: string;
  readonly channel: "sqs";
  readonly reason: CorrectionFault;
  readonly detail: string;
  readonly received_at: string;
  readonly quarantined_at: string;
  /** The body as it arrived, cut to a size that identifies it. */
  readonly raw: string;
  readonly raw_bytes: number;
}

export interface IngestQuarantine {
  /** Stores the entry (again, for a redelivery) and returns where it is. */
  put(entry: IngestQuarantineEntry): Promise<string>;
}

/** A signed, expiring link to a file. */
export interface IngestQuarantineLink {
  readonly url: string;
  readonly file_name: string;
  readonly expires_in: number;
  readonly expires_at: string;
}

/** Reads the refused messages back, day by day, for people to look at. */
export interface IngestQuarantineReader {
  /** The days (`yyyy-mm-dd`, or `undated`) that hold entries, newest first. */
  days(): Promise<string[]>;
  /** Up to `max` of a day's entry keys after `after`, in key order; `more` when further keys follow. */
  keys(day: string, after: string | null, max: number): Promise<{ keys: string[]; more: boolean }>;
  /** The stored entry; `null` when it is gone or not a JSON object. */
  read(key: string): Promise<Record<string, unknown> | null>;
  signedLink(key: string, fileName: string, expiresInSeconds: number): Promise<IngestQuarantineLink>;
}
