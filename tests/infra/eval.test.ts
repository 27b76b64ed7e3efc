import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { AttributeType, Table } from "aws-cdk-lib/aws-dynamodb";
import { Bucket } from "aws-cdk-lib/aws-s3";
import { beforeAll, describe, expect, it } from "vitest";
import { ProjectFunction } from "../../infra/constructs/project-function.ts";
import { EVAL_CONTEXT, Eval } from "../../infra/eval.ts";
import { FlywheelStack } from "../../infra/stack.ts";
import { BUCKET_PREFIXES, QUEUES, TABLE } from "../../lib/common/resources.ts";
import { expectQueueWithDeadLetters, getAtt } from "../support/template.ts";
import {
  API_ROUTE,
  functionBehind,
  onlyResource as only,
  type Resource,
  type Statement,
  statementsOf,
} from "./support.ts";

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

describe("eval in the Flywheel stack", () => {
  let template: Template;
  const queueId = (name: string) =>
    only(template, "AWS::SQS::Queue", { QueueName: Match.stringLikeRegexp(`-${name}$`) })[0];
  /** The function consuming the judge queue, found through its event source mapping. */
  const judgeFunction = (): Resource => {
    const [, mapping] = only(template, "AWS::Lambda::EventSourceMapping", {
      EventSourceArn: getAtt(queueId(QUEUES.judge.name)),
    });
    const id = (mapping.Properties.FunctionName as { Ref: string }).Ref;
    return template.findResources("AWS::Lambda::Function")[id] as Resource;
  };
  const apiFunction = (): Resource => functionBehind(template, API_ROUTE);
  const dataBucketId = () =>
    only(template, "AWS::S3::Bucket", {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Prefix: BUCKET_PREFIXES.exports })]),
      },
    })[0];

  beforeAll(() => {
    const app = new App({ builtinCloudFormationValidation: false });
    template = Template.fromStack(new FlywheelStack(app, "Flywheel"));
  });

  it("declares the eval-session indexes on the table from lib/resources", () => {
    const { evalSessions, evalSessionsByProfile } = TABLE.indexes;
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      GlobalSecondaryIndexes: Match.arrayWith(
        [evalSessions, evalSessionsByProfile].map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey, KeyType: "HASH" },
            { AttributeName: index.sortKey, KeyType: "RANGE" },
          ],
          Projection: { ProjectionType: "ALL" },
        })),
      ),
    });
  });

  it("builds the judge queue with its dead-letter queue from the declaration", () => {
    const declaration = QUEUES.judge;
    expectQueueWithDeadLetters(template, declaration);
  });

  it("feeds the judge function in declared batches that report partial failures", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: getAtt(queueId(QUEUES.judge.name)),
      BatchSize: QUEUES.judge.batchSize,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
      // A bounded fan-out: the judge is a shared endpoint.
      ScalingConfig: { MaximumConcurrency: QUEUES.judge.maxConcurrency },
    });
    expect(judgeFunction().Properties).toMatchObject({
      Runtime: "nodejs22.x",
      Timeout: QUEUES.judge.handlerTimeoutSeconds,
      Environment: {
        Variables: { TABLE_NAME: { Ref: expect.any(String) }, BUCKET_NAME: { Ref: dataBucketId() } },
      },
    });
  });

  it("leaves the OpenAI-compatible backend off without its context", () => {
    const variables = (judgeFunction().Properties.Environment as { Variables: Record<string, unknown> })
      .Variables;
    expect(variables.JUDGE_OPENAI_BASE_URL).toBeUndefined();
    expect(variables.JUDGE_OPENAI_API_KEY).toBeUndefined();
  });

  describe("the judge function's grants", () => {
    let statements: Statement[];
    const actions = () => statements.flatMap((s) => asArray(s.Action));

    beforeAll(() => {
      statements = statementsOf(template, judgeFunction());
    });

    it("read and update the table through keys and indexes, and never scan or delete", () => {
      const table = actions().filter((a) => a.startsWith("dynamodb:"));
      expect(table).toEqual(
        expect.arrayContaining([
          "dynamodb:GetItem",
          "dynamodb:Query",
          "dynamodb:PutItem",
          "dynamodb:UpdateItem",
        ]),
      );
      expect(table).not.toContain("dynamodb:Scan");
      expect(table).not.toContain("dynamodb:DeleteItem");
      expect(table).not.toContain("dynamodb:BatchGetItem");
      expect(table).not.toContain("dynamodb:ConditionCheckItem");
    });

    it("touch blobs/ only in the bucket", () => {
      const bucketId = dataBucketId();
      const patterns = statements
        .filter((s) => asArray(s.Action).some((a) => a === "s3:GetObject" || a === "s3:PutObject"))
        .flatMap((s) => asArray(s.Resource))
        .map((resource) => {
          const join = (resource as { "Fn::Join"?: [string, unknown[]] })["Fn::Join"];
          expect(JSON.stringify(join?.[1][0])).toBe(JSON.stringify(getAtt(bucketId)));
          return String(join?.[1][1]).replace(/^\//, "");
        });
      expect([...new Set(patterns)]).toEqual([`${BUCKET_PREFIXES.blobs}*`]);
    });

    it("invoke Bedrock models and inference profiles, and nothing else of Bedrock", () => {
      const bedrock = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith("bedrock:")));
      expect(bedrock.flatMap((s) => asArray(s.Action))).toEqual(["bedrock:InvokeModel"]);
      const resources = JSON.stringify(bedrock.flatMap((s) => asArray(s.Resource)));
      expect(resources).toContain(":bedrock:*::foundation-model/*");
      expect(resources).toContain(":inference-profile/*");
    });

    it("grant nothing on every resource but X-Ray, and no wildcard action", () => {
      expect(actions().filter((a) => a.includes("*"))).toEqual([]);
      const onEverything = statements.filter((s) => asArray(s.Resource).includes("*"));
      expect(onEverything.flatMap((s) => asArray(s.Action)).every((a) => a.startsWith("xray:"))).toBe(true);
    });
  });

  it("lets the API function send to the judge queue, and gives it the queue's URL", () => {
    const fn = apiFunction();
    expect(
      (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.JUDGE_QUEUE_URL,
    ).toEqual({
      Ref: queueId(QUEUES.judge.name),
    });
    const sqs = statementsOf(template, fn).filter((s) => asArray(s.Action).some((a) => a.startsWith("sqs:")));
    // The exports queue is the API's other one (tests/infra/exports.test.ts).
    expect(sqs).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Effect: "Allow",
          Action: expect.arrayContaining(["sqs:SendMessage"]),
          Resource: getAtt(queueId(QUEUES.judge.name)),
        }),
      ]),
    );
    expect(sqs.flatMap((s) => asArray(s.Action))).not.toContain("sqs:ReceiveMessage");
  });

  it("publishes the judge queue and its dead-letter queue", () => {
    expect(Object.keys(template.toJSON().Outputs ?? {})).toEqual(
      expect.arrayContaining(["JudgeQueueUrl", "JudgeDeadLetterQueueUrl"]),
    );
  });
});

describe("the OpenAI-compatible backend", () => {
  const secretArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:judge-key-AbCdEf";

  function evalStack(configure: (app: App) => void) {
    const app = new App({ builtinCloudFormationValidation: false });
    configure(app);
    const stack = new Stack(app, "EvalOnly");
    const table = new Table(stack, "Table", {
      partitionKey: { name: TABLE.partitionKey, type: AttributeType.STRING },
      sortKey: { name: TABLE.sortKey, type: AttributeType.STRING },
    });
    const bucket = new Bucket(stack, "Bucket");
    const api = new ProjectFunction(stack, "Api", {
      entry: new URL("../../functions/api.ts", import.meta.url).pathname,
      bundling: { forceDockerBundling: false },
    });
    const evaluation = new Eval(stack, "Eval", {
      table,
      bucket,
      api,
      judgeEntry: new URL("../../functions/judge.ts", import.meta.url).pathname,
    });
    return { template: Template.fromStack(stack), stack, evaluation };
  }

  it("is configured from the context: base URL, and the key's secret, readable by the judge alone", () => {
    const { template, stack, evaluation } = evalStack((app) => {
      app.node.setContext(EVAL_CONTEXT.openAiBaseUrl, "https://api.openai.com/v1");
      app.node.setContext(EVAL_CONTEXT.openAiApiKeySecretArn, secretArn);
    });
    const judgeId = stack.getLogicalId(evaluation.judge.node.defaultChild as never);
    const judge = template.findResources("AWS::Lambda::Function")[judgeId] as Resource;
    expect((judge.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      JUDGE_OPENAI_BASE_URL: "https://api.openai.com/v1",
      JUDGE_OPENAI_API_KEY_SECRET_ARN: secretArn,
    });
    const secretReads = statementsOf(template, judge).filter((s) =>
      asArray(s.Action).includes("secretsmanager:GetSecretValue"),
    );
    expect(secretReads.map((s) => s.Resource)).toEqual([secretArn]);
  });
});

describe("the old eval API's defaults, from the context", () => {
  it("give the API the default model and backend and the judge an Ollama root, and nothing without them", () => {
    const stackWith = (context: Record<string, unknown>) =>
      Template.fromStack(
        new FlywheelStack(
          new App({
            builtinCloudFormationValidation: false,
            context: { "aws:cdk:bundling-stacks": [], ...context },
          }),
          "Flywheel",
        ),
      );
    const variables = (t: Template, description: string) =>
      Object.values(
        t.findResources("AWS::Lambda::Function", {
          Properties: { Description: Match.stringLikeRegexp(description) },
        }),
      ).map((fn) => fn.Properties.Environment.Variables as Record<string, unknown>)[0] ?? {};
    const configured = stackWith({
      [EVAL_CONTEXT.defaultModel]: "llama3.1",
      [EVAL_CONTEXT.defaultBackend]: "ollama",
      [EVAL_CONTEXT.ollamaBaseUrl]: "http://ollama.internal:11434/v1",
    });
    expect(variables(configured, "Serves the review HTTP API")).toMatchObject({
      JUDGE_DEFAULT_MODEL: "llama3.1",
      JUDGE_DEFAULT_BACKEND: "ollama",
    });
    expect(variables(configured, "Judges chat sessions")).toMatchObject({
      JUDGE_OLLAMA_BASE_URL: "http://ollama.internal:11434/v1",
    });
    const plain = stackWith({});
    expect(variables(plain, "Serves the review HTTP API")).not.toHaveProperty("JUDGE_DEFAULT_MODEL");
    expect(variables(plain, "Judges chat sessions")).not.toHaveProperty("JUDGE_OLLAMA_BASE_URL");
  });
});
