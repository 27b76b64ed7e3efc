import {
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  paginateListObjectsV2,
  type S3Client,
} from "@aws-sdk/client-s3";
import { signedObjectLink } from "../../common/adapters/quarantine-objects.ts";
import { INGEST_QUARANTINE_PREFIX } from "../../common/resources.ts";
import type {
  IngestQuarantine,
  IngestQuarantineEntry,
  IngestQuarantineLink,
  IngestQuarantineReader,
} from "../ports.ts";

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

/** The refused messages as `S3IngestQuarantine` stores them, read back day by day. */
export class S3IngestQuarantineReader implements IngestQuarantineReader {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async days(): Promise<string[]> {
    const days: string[] = [];
    const pages = paginateListObjectsV2(
      { client: this.s3 },
      { Bucket: this.bucket, Prefix: INGEST_QUARANTINE_PREFIX, Delimiter: "/" },
    );
    for await (const page of pages) {
      for (const common of page.CommonPrefixes ?? []) {
        const day = (common.Prefix ?? "").slice(INGEST_QUARANTINE_PREFIX.length).replace(/\/$/, "");
        if (day) days.push(day);
      }
    }
    return days.sort().reverse();
  }

  async keys(day: string, after: string | null, max: number): Promise<{ keys: string[]; more: boolean }> {
    const prefix = `${INGEST_QUARANTINE_PREFIX}${day}/`;
    const keys: string[] = [];
    let token: string | undefined;
    let more = false;
    do {
      const page = await this.s3.send(
        new ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix,
          MaxKeys: Math.min(1000, max - keys.length),
          ...(token ? { ContinuationToken: token } : after ? { StartAfter: after } : {}),
        }),
      );
      for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      more = Boolean(token);
    } while (token && keys.length < max);
    return { keys, more };
  }

  async read(key: string): Promise<Record<string, unknown> | null> {
    try {
      const object = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const value = JSON.parse((await object.Body?.transformToString("utf8")) ?? "") as unknown;
      return value !== null && typeof value === "object" && !Array.isArray(value)
        ? (value as Record<string, unknown>)
        : null;
    } catch (error) {
      if (error instanceof NoSuchKey || error instanceof SyntaxError) return null;
      throw error;
    }
  }

  signedLink(key: string, fileName: string, expiresInSeconds: number): Promise<IngestQuarantineLink> {
    return signedObjectLink(this.s3, this.bucket, key, {
      fileName,
      contentType: "application/json",
      expiresInSeconds,
      now: this.now(),
    });
  }
}
