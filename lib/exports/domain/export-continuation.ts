import * as z from "zod";
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

/**
 * An export that cannot go on from its checkpoint, whatever the retries: the job fails at once,
 * saying why, rather than after every delivery of its message.
 */
export class ExportCannotGoOnError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * An eval set version an export was checked against from its first invocation can no longer be
 * read (the set was removed, or changed and its old index deleted): checking the rest against
 * another version would make one dataset respect two different sets.
 */
export class EvalSetVersionGoneError extends ExportCannotGoOnError {
  constructor(
    readonly set: string,
    readonly version: string,
  ) {
    super(
      `eval set ${set} version ${version}, which this export has checked its records against since it started, ` +
        "is gone (the set was removed, or changed and that version's index deleted): the rest cannot be checked " +
        "against the same set; export again to check every record against the sets as they are now",
    );
  }
}
