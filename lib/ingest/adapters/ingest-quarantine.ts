import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { INGEST_QUARANTINE_PREFIX } from "../../common/resources.ts";
import type { IngestQuarantine, IngestQuarantineEntry } from "../ports.ts";

/**
 * Refused correction messages, one JSON object each under
 * `quarantine/ingest/<yyyy-mm-dd>/<message id>.json`. The day is the day the message was received,
 * so a redelivery rewrites the same object instead of adding a second one.
 */
export class S3IngestQuarantine implements IngestQuarantine {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
  ) {}

  async put(entry: IngestQuarantineEntry): Promise<string> {
    const key = ingestQuarantineKey(entry.message_id, entry.received_at);
    await this.s3.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: `${JSON.stringify(entry, null, 2)}\n`,
        ContentType: "application/json",
      }),
    );
    return key;
  }
}

export function ingestQuarantineKey(messageId: string, receivedAt: string): string {
  const day = /^\d{4}-\d{2}-\d{2}/.exec(receivedAt)?.[0] ?? "undated";
  // SQS message ids are UUIDs; anything else is made safe for a key segment.
  const name = messageId.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 200) || "unnamed";
  return `${INGEST_QUARANTINE_PREFIX}${day}/${name}.json`;
}
