import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { ExportMessage } from "../domain/export-request.ts";
import type { ExportQueue } from "../ports.ts";

/** The exports queue: one message per job. */
export class SqsExportQueue implements ExportQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(message: ExportMessage): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(message) }),
    );
  }
}
