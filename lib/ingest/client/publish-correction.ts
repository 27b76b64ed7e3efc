import {
  SendMessageBatchCommand,
  type SendMessageBatchRequestEntry,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { classifyCorrectionValue, correctionRecordId } from "../domain/correction.ts";

export { CorrectionMessage } from "../domain/correction.ts";

/** What became of the message at `index` of the input. */
export type PublishReport =
  | {
      readonly index: number;
      readonly ok: true;
      readonly messageId: string;
      /** The id the record will have in Flywheel. */
      readonly recordId: string;
    }
  | {
      readonly index: number;
      readonly ok: false;
      /** `invalid` (refused here, never sent) or the SQS error code. */
      readonly code: string;
      readonly detail: string;
    };

export interface PublishOptions {
  /** Batches in flight at once. */
  readonly concurrency?: number;
  /** Sends of an entry that failed through no fault of its own (throttled, SQS internal). */
  readonly maxAttempts?: number;
}

/** SQS takes at most 10 entries per batch. */
const BATCH_ENTRIES = 10;
/** Payload per batch; the smallest limit SQS has had, so any queue accepts it. */
const BATCH_BYTES = 256 * 1024;

/**
 * Publishes corrections to the corrections queue: each message is validated with the same schema
 * the ingest function applies (a refused one is reported and not sent), then sent in batches of up
 * to ten. The result has one report per input message, in input order; nothing fails silently.
 */
export async function publishCorrection(
  sqs: SQSClient,
  queueUrl: string,
  messages: readonly unknown[],
  options: PublishOptions = {},
): Promise<PublishReport[]> {
  const reports: PublishReport[] = new Array(messages.length);
  const batches = batchesOf(validated(messages, reports));
  const maxAttempts = options.maxAttempts ?? 3;
  const concurrency = Math.max(1, options.concurrency ?? 8);
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      const entries = batches[next++];
      if (!entries) return;
      try {
        await sendBatch(sqs, queueUrl, entries, reports, maxAttempts);
      } catch (error) {
        // The whole request failed (network, credentials): every entry of the batch is reported.
        for (const entry of entries) {
          reports[entry.index] ??= {
            index: entry.index,
            ok: false,
            code: (error as Error).name || "SendFailed",
            detail: (error as Error).message,
          };
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, worker));
  return reports;
}

interface PendingMessage {
  readonly index: number;
  readonly body: string;
  readonly source: string;
  readonly key: string | null;
}

/** The messages that pass the ingest schema, ready to send; each refused one is reported. */
function validated(messages: readonly unknown[], reports: PublishReport[]): PendingMessage[] {
  const pending: PendingMessage[] = [];
  messages.forEach((value, index) => {
    const verdict = classifyCorrectionValue(value);
    if (!verdict.ok)
      reports[index] = { index, ok: false, code: "invalid", detail: `${verdict.reason}: ${verdict.detail}` };
    else {
      pending.push({
        index,
        body: JSON.stringify(verdict.message),
        source: verdict.message.source,
        key: verdict.message.idempotency_key ?? null,
      });
    }
  });
  return pending;
}

/** Batches within SendMessageBatch's limits: ten entries and 256 KiB each. */
function batchesOf(pending: readonly PendingMessage[]): PendingMessage[][] {
  const batches: PendingMessage[][] = [];
  let batch: PendingMessage[] = [];
  let bytes = 0;
  for (const entry of pending) {
    const size = Buffer.byteLength(entry.body);
    if (batch.length === BATCH_ENTRIES || (batch.length > 0 && bytes + size > BATCH_BYTES)) {
      batches.push(batch);
      batch = [];
      bytes = 0;
    }
    batch.push(entry);
    bytes += size;
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/** Sends one batch, retrying the entries that failed for a reason not their own. */
async function sendBatch(
  sqs: SQSClient,
  queueUrl: string,
  entries: readonly PendingMessage[],
  reports: PublishReport[],
  maxAttempts: number,
): Promise<void> {
  let remaining = entries;
  for (let attempt = 1; remaining.length > 0; attempt++) {
    const request: SendMessageBatchRequestEntry[] = remaining.map((entry) => ({
      Id: String(entry.index),
      MessageBody: entry.body,
    }));
    const result = await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: request }));
    const byId = new Map(remaining.map((entry) => [String(entry.index), entry]));
    for (const success of result.Successful ?? []) {
      const entry = byId.get(success.Id ?? "");
      if (!entry || !success.MessageId) continue;
      reports[entry.index] = {
        index: entry.index,
        ok: true,
        messageId: success.MessageId,
        recordId: correctionRecordId(entry.source, entry.key, success.MessageId),
      };
    }
    const retry: PendingMessage[] = [];
    for (const failure of result.Failed ?? []) {
      const entry = byId.get(failure.Id ?? "");
      if (!entry) continue;
      if (!failure.SenderFault && attempt < maxAttempts) retry.push(entry);
      else {
        reports[entry.index] = {
          index: entry.index,
          ok: false,
          code: failure.Code ?? "SendFailed",
          detail: failure.Message ?? "",
        };
      }
    }
    remaining = retry;
    if (remaining.length > 0) await new Promise((resolve) => setTimeout(resolve, 50 * 2 ** attempt));
  }
}
