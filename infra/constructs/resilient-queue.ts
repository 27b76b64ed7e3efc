import { Duration, Stack } from "aws-cdk-lib";
import type { IFunction } from "aws-cdk-lib/aws-lambda";
import { SqsEventSource } from "aws-cdk-lib/aws-lambda-event-sources";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { DLQ_RETENTION_SECONDS, dlqName, type QueueDeclaration } from "../../lib/common/resources.ts";

export interface ResilientQueueProps {
  readonly declaration: QueueDeclaration;
}

/**
 * A queue built from its declaration in `lib/resources.ts`, always with its dead-letter queue,
 * both encrypted and TLS-only, so no capability can forget either.
 */
export class ResilientQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;
  readonly declaration: QueueDeclaration;

  constructor(scope: Construct, id: string, { declaration }: ResilientQueueProps) {
    super(scope, id);
    // AWS's advice for a Lambda event source: a visibility timeout of at least six times the
    // function's timeout.
    if (declaration.visibilityTimeoutSeconds < 6 * declaration.handlerTimeoutSeconds) {
      throw new Error(
        `queue ${declaration.name}: visibility timeout ${declaration.visibilityTimeoutSeconds}s is under six times its handler's timeout ${declaration.handlerTimeoutSeconds}s`,
      );
    }
    this.declaration = declaration;
    const namePrefix = Stack.of(this).stackName;

    this.deadLetterQueue = new Queue(this, "DeadLetterQueue", {
      queueName: `${namePrefix}-${dlqName(declaration.name)}`,
      retentionPeriod: Duration.seconds(DLQ_RETENTION_SECONDS),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });

    this.queue = new Queue(this, "Queue", {
      queueName: `${namePrefix}-${declaration.name}`,
      visibilityTimeout: Duration.seconds(declaration.visibilityTimeoutSeconds),
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: declaration.maxReceiveCount },
    });
  }

  /**
   * Makes `consumer` the queue's handler. It reports partial batch failures, so one bad message
   * is retried (and eventually dead-lettered) alone while its neighbours are deleted.
   */
  addConsumer(consumer: IFunction & { readonly timeout?: Duration }): void {
    const timeoutSeconds = consumer.timeout?.toSeconds();
    if (timeoutSeconds !== undefined && timeoutSeconds > this.declaration.visibilityTimeoutSeconds) {
      throw new Error(
        `queue ${this.declaration.name}: consumer timeout ${timeoutSeconds}s exceeds the visibility timeout ${this.declaration.visibilityTimeoutSeconds}s`,
      );
    }
    consumer.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: this.declaration.batchSize,
        reportBatchItemFailures: true,
        ...(this.declaration.maxConcurrency ? { maxConcurrency: this.declaration.maxConcurrency } : {}),
      }),
    );
  }
}
