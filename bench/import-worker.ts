/**
 * One import invocation, in a process of its own so its peak memory is the invocation's alone:
 * invokes the real run-uploads handler on one SQS record and prints a JSON line with what it
 * measured. Configuration comes from the environment (TABLE_NAME, BUCKET_NAME, endpoints and,
 * for an import with a deadline, RUN_UPLOADS_QUEUE_URL), like a Lambda.
 *
 * `--body` is the record's body: an S3 notification, or a continuation an earlier invocation sent.
 * With `--budget-ms`, the invocation's context reports the import's reserve plus the budget minus
 * the time elapsed, so the import works about the budget before it checkpoints and hands on;
 * without, it reports a minute, and an import with no continuation queue ignores it.
 */
import { performance } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { IMPORT_DEADLINE_RESERVE_MS } from "../lib/import/edge/run-upload-records.ts";
import { lambdaContext, sqsEvent, sqsRecord } from "../tests/support/events.ts";
import { measureHandler } from "./worker.ts";

const { values } = parseArgs({
  options: { body: { type: "string" }, "budget-ms": { type: "string" } },
});
if (!values.body) throw new Error("import-worker: --body <SQS record body> is required");
const body = values.body;
const budgetMs = values["budget-ms"] === undefined ? undefined : Number(values["budget-ms"]);
const { handler } = await import("../functions/import-run.ts");
await measureHandler((started) => {
  const context = lambdaContext("bench");
  if (budgetMs !== undefined) {
    context.getRemainingTimeInMillis = () =>
      Math.max(0, IMPORT_DEADLINE_RESERVE_MS + budgetMs - (performance.now() - started));
  }
  return handler(sqsEvent(sqsRecord(body)), context);
});
