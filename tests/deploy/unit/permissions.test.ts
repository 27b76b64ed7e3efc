import { describe, expect, it } from "vitest";
import { deniedCalls, type ResolvedStatement, unusedActions, wildcardMatch } from "../support/iam.ts";
import { type AwsCall, dynamoDbCalls, principalOf, s3Calls } from "../support/recording-proxy.ts";
import { localResourceMap, resolveValue } from "../support/resolve.ts";

const TABLE = "arn:aws:dynamodb:us-east-1:000000000000:table/t";
const call = (action: string, resource: string, context: Record<string, string> = {}): AwsCall => ({
  principal: "FN",
  action,
  resource,
  context,
  request: "test",
});
const allow = (actions: string[], resources: string[], conditions = {}): ResolvedStatement => ({
  effect: "Allow",
  actions,
  resources,
  conditions,
  source: "test",
});

describe("the IAM actions a request is authorised as", () => {
  it("takes a transaction apart into the item actions it carries, each on its table", () => {
    const calls = dynamoDbCalls("DynamoDB_20120810.TransactWriteItems", {
      TransactItems: [
        { Put: { TableName: "t" } },
        { Update: { TableName: "t" } },
        { ConditionCheck: { TableName: "other" } },
      ],
    });
    expect(calls.map((c) => [c.action, c.resource])).toEqual([
      ["dynamodb:PutItem", TABLE],
      ["dynamodb:UpdateItem", TABLE],
      ["dynamodb:ConditionCheckItem", "arn:aws:dynamodb:us-east-1:000000000000:table/other"],
    ]);
  });

  it("puts a query through an index on the index's ARN", () => {
    expect(dynamoDbCalls("DynamoDB_20120810.Query", { TableName: "t", IndexName: "by-status" })).toEqual([
      expect.objectContaining({ action: "dynamodb:Query", resource: `${TABLE}/index/by-status` }),
    ]);
  });

  it("reads S3's REST calls: a listing with its prefix, a copy as a read and a write, DeleteObjects per key", () => {
    expect(s3Calls({ method: "GET", url: "/b?list-type=2&prefix=runs%2Fx%2F", headers: {} })).toEqual([
      expect.objectContaining({
        action: "s3:ListBucket",
        resource: "arn:aws:s3:::b",
        context: { "s3:prefix": "runs/x/" },
      }),
    ]);
    const copy = s3Calls({
      method: "PUT",
      url: "/b/quarantine/part.jsonl?x-id=CopyObject",
      headers: { "x-amz-copy-source": encodeURIComponent("b/quarantine/whole.jsonl") },
    });
    expect(copy.map((c) => [c.action, c.resource])).toEqual([
      ["s3:PutObject", "arn:aws:s3:::b/quarantine/part.jsonl"],
      ["s3:GetObject", "arn:aws:s3:::b/quarantine/whole.jsonl"],
    ]);
    const deleted = s3Calls(
      { method: "POST", url: "/b?delete", headers: {} },
      "<Delete><Object><Key>q/a&amp;b.json</Key></Object><Object><Key>q/c.json</Key></Object></Delete>",
    );
    expect(deleted.map((c) => [c.action, c.resource])).toEqual([
      ["s3:DeleteObject", "arn:aws:s3:::b/q/a&b.json"],
      ["s3:DeleteObject", "arn:aws:s3:::b/q/c.json"],
    ]);
    expect(s3Calls({ method: "DELETE", url: "/b/k?uploadId=1", headers: {} })[0]?.action).toBe(
      "s3:AbortMultipartUpload",
    );
  });

  it("names the caller by the access key of the signature, in the header or a presigned URL", () => {
    expect(
      principalOf({
        headers: {
          authorization: "AWS4-HMAC-SHA256 Credential=DEPLOYApi/20261205/us-east-1/s3/aws4_request, Sig",
        },
        url: "/",
      }),
    ).toBe("DEPLOYApi");
    expect(
      principalOf({
        headers: {},
        url: "/b/k?X-Amz-Credential=DEPLOYApi%2F20261205%2Fus-east-1%2Fs3%2Faws4_request",
      }),
    ).toBe("DEPLOYApi");
  });
});

describe("a role's statements against the calls", () => {
  const statements = [
    allow(["dynamodb:GetItem", "dynamodb:Query"], [TABLE, `${TABLE}/index/*`]),
    allow(["s3:GetObject"], ["arn:aws:s3:::b/runs/*"]),
    allow(["s3:ListBucket"], ["arn:aws:s3:::b"], { StringLike: { "s3:prefix": ["runs/*"] } }),
  ];

  it("allows what a statement names, on a resource it matches, with its conditions", () => {
    expect(
      deniedCalls(statements, [
        call("dynamodb:Query", `${TABLE}/index/by-run`),
        call("s3:GetObject", "arn:aws:s3:::b/runs/r1/sft_candidates.jsonl"),
        call("s3:ListBucket", "arn:aws:s3:::b", { "s3:prefix": "runs/r1/" }),
      ]),
    ).toEqual([]);
  });

  it("denies another action, another prefix, an unmet condition and a missing condition key", () => {
    expect(
      deniedCalls(statements, [
        call("dynamodb:PutItem", TABLE),
        call("s3:GetObject", "arn:aws:s3:::b/quarantine/x"),
        call("s3:ListBucket", "arn:aws:s3:::b", { "s3:prefix": "exports/" }),
        call("s3:ListBucket", "arn:aws:s3:::b"),
      ]),
    ).toHaveLength(4);
  });

  it("lets a Deny win over an Allow", () => {
    const denied = [...statements, { ...allow(["dynamodb:*"], ["*"]), effect: "Deny" as const }];
    expect(deniedCalls(denied, [call("dynamodb:GetItem", TABLE)])).toHaveLength(1);
  });

  it("reports the actions of a statement that no call used", () => {
    const unused = unusedActions(statements, [call("dynamodb:Query", `${TABLE}/index/by-run`)]);
    expect(unused.map((u) => u.action)).toEqual(["dynamodb:GetItem", "s3:GetObject", "s3:ListBucket"]);
  });

  it("matches IAM's wildcards: * any run, ? one character, actions without case", () => {
    expect(wildcardMatch("arn:aws:s3:::b/runs/*", "arn:aws:s3:::b/runs/a/b")).toBe(true);
    expect(wildcardMatch("arn:aws:s3:::b/runs/*", "arn:aws:s3:::b/quarantine/runs/a")).toBe(false);
    expect(wildcardMatch("s3:Get?bject", "s3:getobject", true)).toBe(true);
  });
});

describe("the template's references resolved to local resources", () => {
  const template = {
    Resources: {
      Table: { Type: "AWS::DynamoDB::Table" },
      Bucket: { Type: "AWS::S3::Bucket" },
      Queue: { Type: "AWS::SQS::Queue", Properties: { QueueName: "Flywheel-run-uploads" } },
      Fn: {
        Type: "AWS::Lambda::Function",
        Properties: { Environment: { Variables: { BUCKET_NAME: { Ref: "Bucket" } } } },
      },
    },
  };
  const map = localResourceMap(template, {
    tableName: "local-table",
    bucket: "local-bucket",
    queues: {
      "run-uploads": {
        url: "http://q/000000000000/x-run-uploads",
        arn: "arn:aws:sqs:us-east-1:000000000000:x-run-uploads",
      },
    },
    secrets: {},
  });

  it("resolves Ref, Fn::GetAtt, Fn::Join and pseudo parameters", () => {
    expect(resolveValue({ Ref: "Table" }, map)).toBe("local-table");
    expect(resolveValue({ "Fn::Join": ["", [{ "Fn::GetAtt": ["Bucket", "Arn"] }, "/runs/*"]] }, map)).toBe(
      "arn:aws:s3:::local-bucket/runs/*",
    );
    expect(resolveValue({ Ref: "Queue" }, map)).toBe("http://q/000000000000/x-run-uploads");
    expect(resolveValue({ "Fn::Sub": "arn:${AWS::Partition}:x:${AWS::Region}" }, map)).toBe(
      "arn:aws:x:us-east-1",
    );
  });

  it("refuses a reference to anything it has no local resource for", () => {
    expect(() => resolveValue({ Ref: "Nothing" }, map)).toThrow(/no local resource for Ref Nothing/);
  });
});
