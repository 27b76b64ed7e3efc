import { Match, type Template } from "aws-cdk-lib/assertions";
import { expect } from "vitest";
import { DLQ_RETENTION_SECONDS, dlqName } from "../../lib/common/resources.ts";

/** `Fn::GetAtt` of a resource's attribute, as synthesized templates write it. */
export const getAtt = (logicalId: string, attribute = "Arn") => ({ "Fn::GetAtt": [logicalId, attribute] });

/** The logical id of the one queue whose name ends in `-<name>`. */
export function queueIdIn(template: Template, name: string): string {
  const ids = Object.keys(
    template.findResources("AWS::SQS::Queue", {
      Properties: { QueueName: Match.stringLikeRegexp(`-${name}$`) },
    }),
  );
  expect(ids, `exactly one queue named *-${name}`).toHaveLength(1);
  return ids[0] as string;
}

/**
 * The queue of a declaration (`lib/resources.ts`) as the stack builds it: encrypted, its visibility
 * timeout, and a redrive to its own encrypted dead-letter queue after the declared receives.
 */
export function expectQueueWithDeadLetters(
  template: Template,
  declaration: {
    readonly name: string;
    readonly visibilityTimeoutSeconds: number;
    readonly maxReceiveCount: number;
  },
): void {
  template.hasResourceProperties("AWS::SQS::Queue", {
    QueueName: Match.stringLikeRegexp(`-${declaration.name}$`),
    VisibilityTimeout: declaration.visibilityTimeoutSeconds,
    SqsManagedSseEnabled: true,
    RedrivePolicy: {
      deadLetterTargetArn: getAtt(queueIdIn(template, dlqName(declaration.name))),
      maxReceiveCount: declaration.maxReceiveCount,
    },
  });
  template.hasResourceProperties("AWS::SQS::Queue", {
    QueueName: Match.stringLikeRegexp(`-${dlqName(declaration.name)}$`),
    MessageRetentionPeriod: DLQ_RETENTION_SECONDS,
    SqsManagedSseEnabled: true,
  });
}
