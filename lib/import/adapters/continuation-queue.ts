import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { continuationMessage, type ImportContinuation } from "../domain/continuation.ts";
import type { ContinuationQueue } from "../ports.ts";

/** Continuations go on the run-uploads queue itself, so the import function picks them up. */
export class SqsContinuationQueue implements ContinuationQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async handOn(continuation: ImportContinuation): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: continuationMessage(continuation) }),
    );
  }
}
