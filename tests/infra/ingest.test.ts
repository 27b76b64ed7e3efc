import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { FlywheelStack } from "../../infra/stack.ts";
import { BUCKET_PREFIXES, dlqName, INGEST_QUARANTINE_PREFIX, QUEUES } from "../../lib/common/resources.ts";
import { expectQueueWithDeadLetters, getAtt } from "../support/template.ts";

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

const declaration = QUEUES.corrections;
let template: Template;

beforeAll(() => {
  // These assertions read the template only: no CloudFormation schema check, no asset bundling.
  const app = new App({
    builtinCloudFormationValidation: false,
    context: { "aws:cdk:bundling-stacks": [] },
  });
  template = Template.fromStack(new FlywheelStack(app, "Flywheel"));
});

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
const resources = (type: string, props?: Record<string, unknown>) =>
  Object.entries(template.findResources(type, props ? { Properties: props } : undefined)) as [
    string,
    Resource,
  ][];
function only(type: string, props: Record<string, unknown>): [string, Resource] {
  const found = resources(type, props);
  expect(found, `exactly one ${type} matching ${JSON.stringify(props)}`).toHaveLength(1);
  return found[0] as [string, Resource];
}
const getAttId = (value: unknown) => (value as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
const queueId = (name: string) =>
  only("AWS::SQS::Queue", { QueueName: Match.stringLikeRegexp(`-${name}$`) })[0];
const tableId = () => only("AWS::DynamoDB::Table", {})[0];
const secretId = () =>
  only("AWS::SecretsManager::Secret", { Description: Match.stringLikeRegexp("ingest") })[0];

function functionById(id: string): Resource {
  const fn = resources("AWS::Lambda::Function").find(([candidate]) => candidate === id)?.[1];
  if (!fn) throw new Error(`no function ${id}`);
  return fn;
}

/** The consumer of the corrections queue, found through its event source mapping. */
function ingestFunction(): Resource {
  const [, mapping] = only("AWS::Lambda::EventSourceMapping", {
    EventSourceArn: getAtt(queueId(declaration.name)),
  });
  return functionById((mapping.Properties.FunctionName as { Ref: string }).Ref);
}

/** The function behind `POST /api/sft/ingest`: the ingest API function. */
function ingestApiFunction(): Resource {
  const [, route] = only("AWS::ApiGatewayV2::Route", { RouteKey: "POST /api/sft/ingest" });
  const integrationId = JSON.stringify(route.Properties.Target).match(/"Ref":"([^"]+)"/)?.[1];
  const integration = resources("AWS::ApiGatewayV2::Integration").find(([id]) => id === integrationId)?.[1];
  return functionById(getAttId(integration?.Properties.IntegrationUri));
}

function statementsOf(fn: Resource): Statement[] {
  const roleId = getAttId(fn.Properties.Role);
  return resources("AWS::IAM::Policy")
    .filter(([, policy]) =>
      (policy.Properties.Roles as unknown[]).some((role) => (role as { Ref?: string }).Ref === roleId),
    )
    .flatMap(([, policy]) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

/** `<data bucket ARN>/blobs/*` → `blobs/*`. */
function objectPatterns(statement: Statement): string[] {
  return asArray(statement.Resource).flatMap((resource) => {
    const join = (resource as { "Fn::Join"?: [string, unknown[]] })["Fn::Join"];
    const suffix = join?.[1][1];
    return typeof suffix === "string" ? [suffix.replace(/^\//, "")] : [];
  });
}

const actionsOf = (statements: Statement[]) => statements.flatMap((s) => asArray(s.Action));

/**
 * What storing a correction takes: a transaction of a conditional Put and the Update of a counter
 * shard, and a Get by key when a retried delivery finds its record already stored.
 */
const INSERT_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"];

describe("the corrections queue", () => {
  it("waits at least six handler timeouts before redelivering, and dead-letters after the declared receives", () => {
    expect(declaration.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(
      6 * declaration.handlerTimeoutSeconds,
    );
    expect(declaration).toMatchObject({ maxReceiveCount: 5, batchSize: 10 });
    expectQueueWithDeadLetters(template, declaration);
  });

  it("feeds the ingest function in batches of ten that report partial failures", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: getAtt(queueId(declaration.name)),
      BatchSize: declaration.batchSize,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
  });

  it("refuses plain HTTP on the queue and its dead-letter queue", () => {
    for (const id of [queueId(declaration.name), queueId(dlqName(declaration.name))]) {
      template.hasResourceProperties("AWS::SQS::QueuePolicy", {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
          ]),
        },
      });
    }
  });
});

describe("the ingest function", () => {
  let statements: Statement[];
  beforeAll(() => {
    statements = statementsOf(ingestFunction());
  });

  it("runs with the declared timeout and knows the table and bucket", () => {
    expect(ingestFunction().Properties).toMatchObject({
      Runtime: "nodejs22.x",
      Timeout: declaration.handlerTimeoutSeconds,
      Environment: {
        Variables: { TABLE_NAME: { Ref: tableId() }, BUCKET_NAME: { Ref: expect.any(String) } },
      },
    });
  });

  it("may only insert: put items, update counter shards, read back by key; no query, no delete, no index", () => {
    const table = statements.filter((s) => actionsOf([s]).some((a) => a.startsWith("dynamodb:")));
    expect(actionsOf(table).sort()).toEqual(INSERT_ACTIONS);
    expect(table.flatMap((s) => asArray(s.Resource))).toEqual([getAtt(tableId())]);
  });

  it(`may only create objects under ${INGEST_QUARANTINE_PREFIX} and ${BUCKET_PREFIXES.blobs}, and read or list none`, () => {
    const s3 = statements.filter((s) => actionsOf([s]).some((a) => a.startsWith("s3:")));
    expect([...new Set(actionsOf(s3))].sort()).toEqual(["s3:AbortMultipartUpload", "s3:PutObject"]);
    expect(s3.flatMap(objectPatterns).sort()).toEqual(
      [`${BUCKET_PREFIXES.blobs}*`, `${INGEST_QUARANTINE_PREFIX}*`].sort(),
    );
  });

  it("consumes only its own queue, cannot read the token secret, and has `*` only for X-Ray", () => {
    const sqs = statements.filter((s) => actionsOf([s]).some((a) => a.startsWith("sqs:")));
    expect(sqs.flatMap((s) => asArray(s.Resource))).toEqual([getAtt(queueId(declaration.name))]);
    expect(actionsOf(sqs)).not.toContain("sqs:SendMessage");
    expect(actionsOf(statements).filter((a) => a.startsWith("secretsmanager:"))).toEqual([]);
    const onEverything = statements.filter((s) => asArray(s.Resource).includes("*"));
    expect(actionsOf(onEverything).every((a) => a.startsWith("xray:"))).toBe(true);
  });
});

describe("the ingest API function", () => {
  let statements: Statement[];
  beforeAll(() => {
    statements = statementsOf(ingestApiFunction());
  });

  it("serves POST /api/sft/ingest apart from the API function, which serves the health check", () => {
    const [, health] = only("AWS::ApiGatewayV2::Route", { RouteKey: "GET /api/health" });
    const [, ingest] = only("AWS::ApiGatewayV2::Route", { RouteKey: "POST /api/sft/ingest" });
    expect(ingest.Properties.Target).not.toEqual(health.Properties.Target);
    expect(ingestApiFunction().Properties).toMatchObject({
      Runtime: "nodejs22.x",
      Environment: {
        Variables: { TABLE_NAME: { Ref: tableId() }, BUCKET_NAME: { Ref: expect.any(String) } },
      },
    });
  });

  it("may only insert: no update but of counters' shards in its transactions, no delete, no batch write, no query", () => {
    const table = statements.filter((s) => actionsOf([s]).some((a) => a.startsWith("dynamodb:")));
    const actions = actionsOf(table).sort();
    expect(actions).toEqual(INSERT_ACTIONS);
    for (const denied of ["DeleteItem", "BatchWriteItem", "Query", "Scan", "ConditionCheckItem"]) {
      expect(actions).not.toContain(`dynamodb:${denied}`);
    }
    expect(table.flatMap((s) => asArray(s.Resource))).toEqual([getAtt(tableId())]);
  });

  it(`may only create objects under ${BUCKET_PREFIXES.blobs} (a refused body is answered, not quarantined)`, () => {
    const s3 = statements.filter((s) => actionsOf([s]).some((a) => a.startsWith("s3:")));
    expect([...new Set(actionsOf(s3))].sort()).toEqual(["s3:AbortMultipartUpload", "s3:PutObject"]);
    expect(s3.flatMap(objectPatterns)).toEqual([`${BUCKET_PREFIXES.blobs}*`]);
  });

  it("touches no queue, reads only the tokens' secret, and has `*` only for X-Ray", () => {
    const services = new Set(actionsOf(statements).map((a) => a.split(":")[0]));
    expect([...services].sort()).toEqual(["dynamodb", "s3", "secretsmanager", "xray"]);
    const onEverything = statements.filter((s) => asArray(s.Resource).includes("*"));
    expect(actionsOf(onEverything).every((a) => a.startsWith("xray:"))).toBe(true);
  });
});

describe("the ingest tokens", () => {
  it("live in a secret that starts as an empty map (ingest answers 503 until tokens are set)", () => {
    template.hasResourceProperties("AWS::SecretsManager::Secret", {
      Description: Match.stringLikeRegexp("ingest"),
      SecretString: "{}",
    });
  });

  it("are read by the ingest API function alone, from the secret named in its environment", () => {
    const api = ingestApiFunction();
    expect(api.Properties).toMatchObject({
      Environment: { Variables: { INGEST_TOKENS_SECRET_ARN: { Ref: secretId() } } },
    });
    const reads = statementsOf(api).filter((s) => actionsOf([s]).includes("secretsmanager:GetSecretValue"));
    expect(reads.flatMap((s) => asArray(s.Resource))).toEqual([{ Ref: secretId() }]);
    const readers = resources("AWS::IAM::Policy").filter(([, policy]) =>
      JSON.stringify(policy.Properties.PolicyDocument).includes(`{"Ref":"${secretId()}"}`),
    );
    expect(readers).toHaveLength(1);
  });

  it("guard POST /api/sft/ingest in the function, not with the reviewers' JWT authorizer", () => {
    const [, route] = only("AWS::ApiGatewayV2::Route", { RouteKey: "POST /api/sft/ingest" });
    expect(route.Properties.AuthorizationType ?? "NONE").toBe("NONE");
  });
});

describe("outputs", () => {
  it("publish the corrections queue, its dead-letter queue and the token secret", () => {
    expect(Object.keys(template.toJSON().Outputs ?? {})).toEqual(
      expect.arrayContaining([
        "CorrectionsQueueUrl",
        "CorrectionsDeadLetterQueueUrl",
        "IngestTokensSecretArn",
      ]),
    );
  });
});

describe("queue senders", () => {
  it("binds senders to their sources from the ingestQueueSenders context, and binds none without it", () => {
    const bound = new App({
      builtinCloudFormationValidation: false,
      context: { "aws:cdk:bundling-stacks": [], ingestQueueSenders: { AROAPRODUCT: ["kiwi"] } },
    });
    const withSenders = Template.fromStack(new FlywheelStack(bound, "Flywheel"));
    const ingestFunctions = (t: Template) =>
      Object.values(
        t.findResources("AWS::Lambda::Function", {
          Properties: { Description: Match.stringLikeRegexp("corrections from products") },
        }),
      );

    const [fn] = ingestFunctions(withSenders);
    expect(fn?.Properties.Environment.Variables.INGEST_QUEUE_SENDERS).toBe('{"AROAPRODUCT":["kiwi"]}');
    const [plain] = ingestFunctions(template);
    expect(plain?.Properties.Environment.Variables.INGEST_QUEUE_SENDERS).toBeUndefined();
  });
});

describe("source defaults", () => {
  it("gives both ingest paths the same defaults from the ingestSourceDefaults context, and none without it", () => {
    const defaults = { kiwi: { model: "Llama-3.2-3B" } };
    const app = new App({
      builtinCloudFormationValidation: false,
      context: { "aws:cdk:bundling-stacks": [], ingestSourceDefaults: defaults },
    });
    const withDefaults = Template.fromStack(new FlywheelStack(app, "Flywheel"));
    const variablesOf = (t: Template, description: RegExp) =>
      Object.values(
        t.findResources("AWS::Lambda::Function", {
          Properties: { Description: Match.stringLikeRegexp(description.source) },
        }),
      ).map((fn) => fn.Properties.Environment.Variables as Record<string, unknown>);

    const [queue] = variablesOf(withDefaults, /corrections from products/);
    const [api] = variablesOf(withDefaults, /posts to POST \/api\/sft\/ingest/);
    expect(queue?.INGEST_SOURCE_DEFAULTS).toBe(JSON.stringify(defaults));
    expect(api?.INGEST_SOURCE_DEFAULTS).toBe(JSON.stringify(defaults));
    for (const variables of [
      ...variablesOf(template, /corrections from products/),
      ...variablesOf(template, /posts to POST \/api\/sft\/ingest/),
      ...variablesOf(template, /Serves the review HTTP API/),
    ]) {
      expect(variables.INGEST_SOURCE_DEFAULTS).toBeUndefined();
    }
  });
});

describe("the old products' shared secret", () => {
  it("is allowed for the sources the ingestLegacySources context names, and for none without it", () => {
    const app = new App({
      builtinCloudFormationValidation: false,
      context: { "aws:cdk:bundling-stacks": [], ingestLegacySources: ["kiwi"] },
    });
    const variablesOf = (t: Template) =>
      Object.values(
        t.findResources("AWS::Lambda::Function", {
          Properties: { Description: Match.stringLikeRegexp("posts to POST /api/sft/ingest") },
        }),
      ).map((fn) => fn.Properties.Environment.Variables as Record<string, unknown>);
    const [configured] = variablesOf(Template.fromStack(new FlywheelStack(app, "Flywheel")));
    expect(configured?.INGEST_LEGACY_SOURCES).toBe('["kiwi"]');
    const [plain] = variablesOf(template);
    expect(plain?.INGEST_LEGACY_SOURCES).toBeUndefined();
  });
});
