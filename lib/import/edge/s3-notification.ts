import { S3Schema } from "@aws-lambda-powertools/parser/schemas";
import * as z from "zod";
import { decodeS3EventKey } from "../domain/run-upload.ts";

/**
 * The body of a run-uploads message: an S3 event notification, validated with Powertools' own
 * schema of it, or the test event S3 sends once when a notification is configured.
 */
const S3Notification = z.union([S3Schema, z.object({ Event: z.literal("s3:TestEvent") })]);

export interface UploadedObject {
  readonly bucket: string;
  /** Decoded from the notification's URL encoding. */
  readonly key: string;
  readonly eTag?: string;
  readonly sequencer?: string;
}

export class InvalidNotificationError extends Error {}

/** The created objects an SQS message body announces (none for S3's test event). */
export function uploadedObjectsIn(body: string): UploadedObject[] {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new InvalidNotificationError("message body is not JSON");
  }
  const parsed = S3Notification.safeParse(json);
  if (!parsed.success)
    throw new InvalidNotificationError(`not an S3 event notification: ${parsed.error.message}`);
  if (!("Records" in parsed.data)) return [];
  return parsed.data.Records.filter((r) => r.eventName.startsWith("ObjectCreated:")).map((r) => ({
    bucket: r.s3.bucket.name,
    key: decodeS3EventKey(r.s3.object.key),
    eTag: r.s3.object.eTag,
    sequencer: r.s3.object.sequencer,
  }));
}
