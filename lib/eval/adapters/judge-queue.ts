import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { backoff, MAX_ATTEMPTS } from "../../common/adapters/retry.ts";
import type { JudgeMessage } from "../domain/judge-run.ts";
import type { JudgeQueue } from "../ports.ts";

/** SendMessageBatch takes at most ten entries. */
const BATCH = 10;

/**
 * The judge queue: one message per session, sent ten at a time; entries SQS refuses are retried.
 * Any queue of JSON messages sends the same way (the suggestion queue: one message per candidate).
 */
export class SqsJudgeQueue<Message = JudgeMessage> implements JudgeQueue<Message> {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(messages: readonly Message[]) {
    const failed: { message: Message; error: string }[] = [];
    for (let offset = 0; offset < messages.length; offset += BATCH) {
      let pending = messages.slice(offset, offset + BATCH).map((message, i) => ({ id: String(i), message }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await backoff(attempt);
        const result = await this.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: this.queueUrl,
            Entries: pending.map(({ id, message }) => ({ Id: id, MessageBody: JSON.stringify(message) })),
          }),
        );
        const refused = new Map((result.Failed ?? []).map((entry) => [entry.Id, entry]));
        const retry = pending.filter(({ id }) => {
          const entry = refused.get(id);
          return entry !== undefined && !entry.SenderFault;
        });
        for (const { id, message } of pending) {
          const entry = refused.get(id);
          if (entry && (entry.SenderFault || attempt + 1 >= MAX_ATTEMPTS)) {
            failed.push({ message, error: `${entry.Code ?? "error"}: ${entry.Message ?? ""}`.trim() });
          }
        }
        pending = attempt + 1 >= MAX_ATTEMPTS ? [] : retry;
      }
    }
    return { failed };
  }
}
