import { App } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { FlywheelStack } from "../../infra/stack.ts";
import { BUCKET_PREFIXES, QUEUES } from "../../lib/common/resources.ts";
import { expectQueueWithDeadLetters, getAtt } from "../support/template.ts";
import {
  API_ROUTE,
  functionBehind,
  onlyResource,
  statementsOf as policyStatements,
  type Resource,
  type Statement,
} from "./support.ts";

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

let template: Template;

const only = (type: string, props: Record<string, unknown> = {}) => onlyResource(template, type, props);
const statementsOf = (fn: Resource) => policyStatements(template, fn);

const queueId = (name: string) =>
  only("AWS::SQS::Queue", { QueueName: Match.stringLikeRegexp(`-${name}$`) })[0];
const dataBucketId = () =>
  only("AWS::S3::Bucket", {
    LifecycleConfiguration: {
      Rules: Match.arrayWith([Match.objectLike({ Prefix: BUCKET_PREFIXES.exports })]),
    },
  })[0];

/** The function consuming the exports queue, found through its event source mapping. */
function exportFunction(): Resource {
  const [, mapping] = only("AWS::Lambda::EventSourceMapping", {
    EventSourceArn: getAtt(queueId(QUEUES.exports.name)),
  });
  const id = (mapping.Properties.FunctionName as { Ref: string }).Ref;
  return template.findResources("AWS::Lambda::Function")[id] as Resource;
}

const apiFunction = (): Resource => functionBehind(template, API_ROUTE);

/** Object-level S3 actions → the key patterns (`exports/*`) of the data bucket they are granted on. */
function objectGrants(statements: Statement[]): Record<string, string[]> {
  const bucketId = dataBucketId();
  const grants: Record<string, Set<string>> = {};
  for (const statement of statements) {
    for (const action of asArray(statement.Action).filter(
      (a) => a.startsWith("s3:") && a !== "s3:ListBucket",
    )) {
      for (const resource of asArray(statement.Resource)) {
        const join = (resource as { "Fn::Join"?: [string, unknown[]] })["Fn::Join"];
        expect(JSON.stringify(join?.[1][0]), `${action} on the data bucket only`).toBe(
          JSON.stringify(getAtt(bucketId)),
        );
        grants[action] ??= new Set();
        grants[action].add(String(join?.[1][1]).replace(/^\//, ""));
      }
    }
  }
  return Object.fromEntries(Object.entries(grants).map(([action, keys]) => [action, [...keys].sort()]));
}

beforeAll(() => {
  const app = new App({ builtinCloudFormationValidation: false });
  template = Template.fromStack(new FlywheelStack(app, "Flywheel"));
});

describe("exports in the Flywheel stack", () => {
  it("builds the exports queue with its dead-letter queue from the declaration", () => {
    const declaration = QUEUES.exports;
    expectQueueWithDeadLetters(template, declaration);
  });

  it("feeds the export function one job at a time, reporting failures per message", () => {
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: getAtt(queueId(QUEUES.exports.name)),
      BatchSize: 1,
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
    expect(exportFunction().Properties).toMatchObject({
      Runtime: "nodejs22.x",
      Timeout: QUEUES.exports.handlerTimeoutSeconds,
      Environment: {
        Variables: {
          TABLE_NAME: { Ref: expect.any(String) },
          BUCKET_NAME: { Ref: dataBucketId() },
          CODE_VERSION: expect.stringMatching(/^\d+\.\d+\.\d+(\+[0-9a-f]{7,40})?$/),
        },
      },
    });
  });

  describe("the export function's grants", () => {
    let statements: Statement[];
    const actions = () => statements.flatMap((s) => asArray(s.Action));

    beforeAll(() => {
      statements = statementsOf(exportFunction());
    });

    it("query the table and its indexes, batch-read the counters, read its checkpoint and update its job, and nothing else", () => {
      const table = actions().filter((a) => a.startsWith("dynamodb:"));
      expect([...new Set(table)].sort()).toEqual([
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
      ]);
      expect(table).not.toContain("dynamodb:Scan");
      expect(table).not.toContain("dynamodb:DeleteItem");
      expect(table).not.toContain("dynamodb:BatchWriteItem");
      const indexGrant = statements.find((s) => JSON.stringify(s.Resource).includes("/index/*"));
      expect(asArray(indexGrant?.Action ?? [])).toContain("dynamodb:Query");
    });

    it("write objects only under exports/ and eval set indexes, and read the bodies under blobs/ and the eval sets", () => {
      expect(objectGrants(statements)).toEqual({
        "s3:PutObject": [`${BUCKET_PREFIXES.evalsetIndex}*`, `${BUCKET_PREFIXES.exports}*`],
        "s3:AbortMultipartUpload": [`${BUCKET_PREFIXES.evalsetIndex}*`, `${BUCKET_PREFIXES.exports}*`],
        "s3:GetObject": [
          `${BUCKET_PREFIXES.blobs}*`,
          `${BUCKET_PREFIXES.evalsetIndex}*`,
          `${BUCKET_PREFIXES.evalsets}*`,
          // Its own checkpoints' state, read back by the invocation that goes on.
          `${BUCKET_PREFIXES.exports}*/checkpoints/*`,
        ],
        // And removed once the export is done: nothing else is ever deleted.
        "s3:DeleteObject": [`${BUCKET_PREFIXES.exports}*/checkpoints/*`],
      });
      // It lists the registered sets (and finds an index missing as a 404, not a 403); never a set's contents elsewhere.
      const listing = statements.filter((s) => asArray(s.Action).includes("s3:ListBucket"));
      expect(listing.map((s) => s.Condition)).toEqual([
        { StringLike: { "s3:prefix": [`${BUCKET_PREFIXES.evalsets}*`, `${BUCKET_PREFIXES.evalsetIndex}*`] } },
      ]);
    });

    it("touch no queue but their own (consumed, and sent the continuation of a checkpointed export), and grant nothing on every resource but X-Ray", () => {
      const sqs = statements.filter((s) => asArray(s.Action).some((a) => a.startsWith("sqs:")));
      expect(new Set(sqs.map((s) => JSON.stringify(s.Resource)))).toEqual(
        new Set([JSON.stringify(getAtt(queueId(QUEUES.exports.name)))]),
      );
      expect(sqs.flatMap((s) => asArray(s.Action))).toContain("sqs:SendMessage");
      expect(actions().filter((a) => a.includes("*"))).toEqual([]);
      const onEverything = statements.filter((s) => asArray(s.Resource).includes("*"));
      expect(onEverything.flatMap((s) => asArray(s.Action)).every((a) => a.startsWith("xray:"))).toBe(true);
    });
  });

  it("lets the API function send to the exports queue, and sign (read) and build exports", () => {
    const fn = apiFunction();
    expect((fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables).toMatchObject({
      EXPORTS_QUEUE_URL: { Ref: queueId(QUEUES.exports.name) },
      CODE_VERSION: expect.any(String),
    });
    const statements = statementsOf(fn);
    const sends = statements.filter(
      (s) => JSON.stringify(s.Resource) === JSON.stringify(getAtt(queueId(QUEUES.exports.name))),
    );
    expect(sends.flatMap((s) => asArray(s.Action))).toEqual(expect.arrayContaining(["sqs:SendMessage"]));
    expect(sends.flatMap((s) => asArray(s.Action))).not.toContain("sqs:ReceiveMessage");
    const grants = objectGrants(statements);
    expect(grants["s3:GetObject"]).toContain(`${BUCKET_PREFIXES.exports}*`);
    expect(grants["s3:PutObject"]).toContain(`${BUCKET_PREFIXES.exports}*`);
    // Eval sets: registered (written), listed, indexed and removed through the API.
    for (const action of ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]) {
      expect(grants[action]).toEqual(
        expect.arrayContaining([`${BUCKET_PREFIXES.evalsets}*`, `${BUCKET_PREFIXES.evalsetIndex}*`]),
      );
    }
    expect(grants["s3:DeleteObject"]).toEqual([
      `${BUCKET_PREFIXES.evalsetIndex}*`,
      `${BUCKET_PREFIXES.evalsets}*`,
    ]);
  });

  it("keeps dataset versions out of every expiry rule: no lifecycle rule deletes anything under datasets/", () => {
    const [, bucket] = only("AWS::S3::Bucket", {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Prefix: BUCKET_PREFIXES.exports })]),
      },
    });
    const rules = (
      bucket.Properties.LifecycleConfiguration as {
        Rules: {
          Prefix?: string;
          Filter?: { Prefix?: string };
          ExpirationInDays?: number;
          ExpirationDate?: string;
        }[];
      }
    ).Rules;
    const expiring = rules.filter(
      (rule) => rule.ExpirationInDays !== undefined || rule.ExpirationDate !== undefined,
    );
    expect(expiring.length).toBeGreaterThan(0);
    for (const rule of expiring) {
      const prefix = rule.Prefix ?? rule.Filter?.Prefix ?? "";
      // An expiry rule with no prefix, or one that datasets/ keys would match, would delete versions.
      expect(prefix, "an expiring rule's prefix").not.toBe("");
      expect(`${BUCKET_PREFIXES.datasets}name/v1/dataset.jsonl`.startsWith(prefix)).toBe(false);
    }
  });

  it("lets the API function copy into datasets/ and sign its files, and never delete or rewrite there", () => {
    const statements = statementsOf(apiFunction());
    const grants = objectGrants(statements);
    expect(grants["s3:GetObject"]).toContain(`${BUCKET_PREFIXES.datasets}*`);
    expect(grants["s3:PutObject"]).toContain(`${BUCKET_PREFIXES.datasets}*`);
    expect(grants["s3:DeleteObject"] ?? []).not.toContain(`${BUCKET_PREFIXES.datasets}*`);
    const listing = statements.filter((s) => asArray(s.Action).includes("s3:ListBucket"));
    const prefixes = listing.flatMap(
      (s) => (s.Condition as { StringLike: { "s3:prefix": string[] } }).StringLike["s3:prefix"],
    );
    expect(prefixes).toEqual(
      expect.arrayContaining([`${BUCKET_PREFIXES.exports}*`, `${BUCKET_PREFIXES.datasets}*`]),
    );
  });

  it("publishes the exports queue and its dead-letter queue", () => {
    expect(Object.keys(template.toJSON().Outputs ?? {})).toEqual(
      expect.arrayContaining(["ExportsQueueUrl", "ExportsDeadLetterQueueUrl"]),
    );
  });
});
