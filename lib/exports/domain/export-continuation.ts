import { z } from "zod";
import { ExportMessage } from "./export-request.ts";

/**
 * The message an export sends to its own queue when it stops before its deadline: go on from
 * checkpoint `continue_from`. Only the invocation that finds the job's checkpoint still at that
 * sequence goes on; a redelivered or stale message changes nothing.
 */
export const ExportContinuation = z.strictObject({
  export_id: z.string().min(1).max(64),
  continue_from: z.number().int().min(1),
});
export type ExportContinuation = z.infer<typeof ExportContinuation>;

/** A message of the exports queue: a job to start, or one to go on with. */
export const ExportQueueMessage = z.union([ExportMessage, ExportContinuation]);
export type ExportQueueMessage = z.infer<typeof ExportQueueMessage>;

/** The sequence a message continues from; `undefined` for a job's first message. */
export const continueFromOf = (message: ExportQueueMessage): number | undefined =>
  "continue_from" in message ? message.continue_from : undefined;
