import { randomBytes } from "node:crypto";
import type { S3Event } from "aws-lambda";
import { RUN_UPLOAD } from "../lib/common/resources.ts";

/** The account every local emulator reports (fauxqs uses it in its queue URLs and ARNs). */
export const LOCAL_ACCOUNT_ID = "000000000000";

/** True for keys the stack's bucket notification forwards to the run-uploads queue. */
export function isRunUploadKey(key: string): boolean {
  return key.startsWith(RUN_UPLOAD.prefix) && key.endsWith(RUN_UPLOAD.suffix);
}

/**
 * Encodes an object key the way S3 writes it into event notifications: form-URL-encoding of the
 * UTF-8 bytes (space becomes `+`, `+` becomes `%2B`), with `/` left as is.
 */
export function encodeS3EventKey(key: string): string {
  let encoded = "";
  for (const byte of Buffer.from(key, "utf8")) {
    const char = String.fromCharCode(byte);
    if (/[A-Za-z0-9.\-_*/]/.test(char)) encoded += char;
    else if (char === " ") encoded += "+";
    else encoded += `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return encoded;
}

/**
 * S3 sequencers are hex strings that only grow for a given key. Time-based, so they keep growing
 * across restarts of the local runtime too.
 */
export function createSequencer(now: () => number = Date.now): () => string {
  let last = 0n;
  return () => {
    let value = BigInt(now()) << 16n;
    if (value <= last) value = last + 1n;
    last = value;
    return value.toString(16).toUpperCase().padStart(16, "0");
  };
}

export interface ObjectCreated {
  readonly bucket: string;
  readonly key: string;
  readonly size: number;
  /** As returned by HeadObject (quoted) or already bare; multipart ETags end in `-<parts>`. */
  readonly eTag: string;
  readonly region: string;
  readonly sequencer: string;
  readonly configurationId: string;
  readonly eventTime?: Date;
  readonly sourceIp?: string;
}

/** One `ObjectCreated` notification in the shape S3 delivers it to an SQS queue. */
export function buildObjectCreatedEvent(object: ObjectCreated): S3Event {
  const eTag = object.eTag.replace(/^"|"$/g, "");
  const principalId = `AWS:${LOCAL_ACCOUNT_ID}`;
  return {
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        awsRegion: object.region,
        eventTime: (object.eventTime ?? new Date()).toISOString(),
        eventName: /-\d+$/.test(eTag) ? "ObjectCreated:CompleteMultipartUpload" : "ObjectCreated:Put",
        userIdentity: { principalId },
        requestParameters: { sourceIPAddress: object.sourceIp ?? "127.0.0.1" },
        responseElements: {
          "x-amz-request-id": randomBytes(8).toString("hex").toUpperCase(),
          "x-amz-id-2": randomBytes(48).toString("base64"),
        },
        s3: {
          s3SchemaVersion: "1.0",
          configurationId: object.configurationId,
          bucket: {
            name: object.bucket,
            ownerIdentity: { principalId: LOCAL_ACCOUNT_ID },
            arn: `arn:aws:s3:::${object.bucket}`,
          },
          object: {
            key: encodeS3EventKey(object.key),
            size: object.size,
            eTag,
            sequencer: object.sequencer,
          },
        },
      },
    ],
  };
}
