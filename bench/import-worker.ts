/**
 * One import, in a process of its own so its peak memory is the import's alone: invokes the real
 * run-uploads handler on an S3 notification and prints a JSON line with what it measured.
 * Configuration comes from the environment (TABLE_NAME, BUCKET_NAME, endpoints), like a Lambda.
 */
import { lambdaContext, s3NotificationBody, sqsEvent, sqsRecord } from "../tests/support/events.ts";
import { measureHandler } from "./worker.ts";

const [bucket, key, eTag] = process.argv.slice(2) as [string, string, string];
const { handler } = await import("../functions/import-run.ts");
await measureHandler(() =>
  handler(sqsEvent(sqsRecord(s3NotificationBody(bucket, key, { eTag }))), lambdaContext("bench")),
);
