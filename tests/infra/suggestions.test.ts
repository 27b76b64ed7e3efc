import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { EVAL_CONTEXT } from "../../infra/eval.ts";
import { FlywheelStack } from "../../infra/stack.ts";
import { BUCKET_PREFIXES, dlqName, QUEUES } from "../../lib/common/resources.ts";
import { expectQueueWithDeadLetters, getAtt } from "../support/template.ts";
import { API_ROUTE, functionBehind, onlyResource as only, type Resource, statementsOf } from "./support.ts";

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

function stack(context: Record<string, string> = {}): Template {
  // No bundling: these tests read the template, not the code.
  const app = new App({
    builtinCloudFormationValidation: false,
    context: { "aws:cdk:bundling-stacks": [], ...context },
  });
  return Template.fromStack(new FlywheelStack(app, "Flywheel"));
}

const queueId = (template: Template, name: string) =>
  only(template, "AWS::SQS::Queue", { QueueName: Match.stringLikeRegexp(`-${name}$`) })[0];

/** The function consuming the suggestion queue, found through its event source mapping. */
function suggestFunction(template: Template): Resource {
  const [, mapping] = only(template, "AWS::Lambda::EventSourceMapping", {
    EventSourceArn: getAtt(queueId(template, QUEUES.suggestions.name)),
  });
  return template.findResources("AWS::Lambda::Function")[
    (mapping.Properties.FunctionName as { Ref: string }).Ref
  ] as Resource;
}

const variables = (fn: Resource) =>
  (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables;

describe("suggestions in the Flywheel stack", () => {
  let template: Template;
  beforeAll(() => {
    template = stack();
  });

  it("builds the suggestion queue with its dead-letter queue from the declaration", () => {
    expectQueueWithDeadLetters(template, QUEUES.suggestions);
  });

  it("feeds the suggest function in declared batches with partial failures, at most four at once", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: getAtt(queueId(template, QUEUES.suggestions.name)),
      BatchSize: QUEUES.suggestions.batchSize,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      ScalingConfig: { MaximumConcurrency: QUEUES.suggestions.maxConcurrency },
    });
    expect(suggestFunction(template).Properties).toMatchObject({
      Runtime: "nodejs22.x",
      Timeout: QUEUES.suggestions.handlerTimeoutSeconds,
    });
  });

  it("grants the suggest function item reads and writes on the table only, blobs/ reads, and Bedrock's InvokeModel", () => {
    const statements = statementsOf(template, suggestFunction(template));
    const actions = statements.flatMap((s) => asArray(s.Action));
    const table = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith("dynamodb:")));
    expect(table.flatMap((s) => asArray(s.Action)).sort()).toEqual([
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:UpdateItem",
    ]);
    // The table itself, none of its indexes: a suggestion never queries.
    expect(JSON.stringify(table.flatMap((s) => asArray(s.Resource)))).not.toContain("/index/");
    expect(actions).not.toContain("s3:PutObject");
    const reads = statements
      .filter((s) => asArray(s.Action).includes("s3:GetObject"))
      .flatMap((s) => asArray(s.Resource));
    expect(JSON.stringify(reads)).toContain(`/${BUCKET_PREFIXES.blobs}*`);
    expect(actions).toContain("bedrock:InvokeModel");
    expect(actions.filter((a) => a.includes("*"))).toEqual([]);
  });

  it("lets the API function send to the suggestion queue, and gives it the queue's URL", () => {
    const api = functionBehind(template, API_ROUTE);
    expect(variables(api).SUGGEST_QUEUE_URL).toEqual({ Ref: queueId(template, QUEUES.suggestions.name) });
    expect(statementsOf(template, api)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Action: expect.arrayContaining(["sqs:SendMessage"]),
          Resource: getAtt(queueId(template, QUEUES.suggestions.name)),
        }),
      ]),
    );
  });

  it("alarms on a message in the suggestion dead-letter queue, and publishes both queues", () => {
    const dlq = queueId(template, dlqName(QUEUES.suggestions.name));
    template.hasResourceProperties("AWS::CloudWatch::Alarm", {
      MetricName: "ApproximateNumberOfMessagesVisible",
      Dimensions: [{ Name: "QueueName", Value: getAtt(dlq, "QueueName") }],
    });
    expect(Object.keys(template.toJSON().Outputs ?? {})).toEqual(
      expect.arrayContaining(["SuggestionQueueUrl", "SuggestionDeadLetterQueueUrl"]),
    );
  });
});

const SECRET_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:judge-key-AbCdEf";

describe("the suggest function's LLM backends", () => {
  it("are the judge's, configured by the same context", () => {
    const template = stack({
      [EVAL_CONTEXT.openAiBaseUrl]: "https://llm.example.test/v1",
      [EVAL_CONTEXT.ollamaBaseUrl]: "http://ollama.internal:11434/v1",
      [EVAL_CONTEXT.openAiApiKeySecretArn]: SECRET_ARN,
    });
    const fn = suggestFunction(template);
    expect(variables(fn)).toMatchObject({
      JUDGE_OPENAI_BASE_URL: "https://llm.example.test/v1",
      JUDGE_OPENAI_API_KEY_SECRET_ARN: SECRET_ARN,
      JUDGE_OLLAMA_BASE_URL: "http://ollama.internal:11434/v1",
    });
    const secretReads = statementsOf(template, fn).filter((s) =>
      asArray(s.Action).includes("secretsmanager:GetSecretValue"),
    );
    expect(secretReads.map((s) => s.Resource)).toEqual([SECRET_ARN]);
    expect(variables(suggestFunction(stack())).JUDGE_OPENAI_BASE_URL).toBeUndefined();
  });
});
