import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { FlywheelStack } from "../../infra/stack.ts";
import { BUCKET_PREFIXES } from "../../lib/common/resources.ts";

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

let template: Template;

beforeAll(() => {
  const app = new App({ builtinCloudFormationValidation: false });
  template = Template.fromStack(new FlywheelStack(app, "Flywheel", { bundling: { minify: false } }));
});

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
const resources = (type: string) => Object.entries(template.findResources(type)) as [string, Resource][];
const only = (type: string) => {
  const found = resources(type);
  expect(found, `exactly one ${type}`).toHaveLength(1);
  return found[0] as [string, Resource];
};
const ref = (value: unknown) => (value as { Ref?: string }).Ref;
const getAttId = (value: unknown) => (value as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];

function route(routeKey: string): Resource {
  const found = resources("AWS::ApiGatewayV2::Route").filter(([, r]) => r.Properties.RouteKey === routeKey);
  expect(found, routeKey).toHaveLength(1);
  return (found[0] as [string, Resource])[1];
}

/** The function behind `ANY /api/{proxy+}`. */
function apiFunction(): Resource {
  const integrationId = JSON.stringify(route("ANY /api/{proxy+}").Properties.Target).match(
    /"Ref":"([^"]+)"/,
  )?.[1];
  const integration = resources("AWS::ApiGatewayV2::Integration").find(([id]) => id === integrationId)?.[1];
  const functionId = getAttId(integration?.Properties.IntegrationUri);
  const fn = resources("AWS::Lambda::Function").find(([id]) => id === functionId)?.[1];
  if (!fn) throw new Error("no API function");
  return fn;
}

function apiStatements(): Statement[] {
  const roleId = getAttId(apiFunction().Properties.Role);
  return resources("AWS::IAM::Policy")
    .filter(([, policy]) => (policy.Properties.Roles as unknown[]).some((role) => ref(role) === roleId))
    .flatMap(([, policy]) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

/** The data bucket: the one the API function is told about. */
const dataBucketId = () =>
  ref((apiFunction().Properties.Environment as { Variables: Record<string, unknown> }).Variables.BUCKET_NAME);

/** `<data bucket ARN>/runs/*` → `runs/*`. */
function objectPatterns(statement: Statement): string[] {
  return asArray(statement.Resource).flatMap((resource) => {
    const join = (resource as { "Fn::Join"?: [string, unknown[]] })["Fn::Join"];
    const [first, suffix] = join?.[1] ?? [];
    return first && getAttId(first) === dataBucketId() && typeof suffix === "string"
      ? [suffix.replace(/^\//, "")]
      : [];
  });
}

const patternsFor = (action: string) =>
  apiStatements()
    .filter((s) => asArray(s.Action).includes(action))
    .flatMap(objectPatterns)
    .sort();

describe("reviewer accounts", () => {
  it("live in a user pool that only administrators add to, with MFA and a strong password policy", () => {
    const [, pool] = only("AWS::Cognito::UserPool");
    expect(pool.Properties).toMatchObject({
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: "ON",
      EnabledMfas: ["SOFTWARE_TOKEN_MFA"],
      UsernameAttributes: ["email"],
      Policies: {
        PasswordPolicy: {
          MinimumLength: 12,
          RequireLowercase: true,
          RequireUppercase: true,
          RequireNumbers: true,
          RequireSymbols: true,
        },
      },
    });
    template.hasResource("AWS::Cognito::UserPool", { DeletionPolicy: "Retain" });
  });

  it("sign in through a public client with SRP", () => {
    const [, client] = only("AWS::Cognito::UserPoolClient");
    expect(client.Properties).toMatchObject({ GenerateSecret: false, PreventUserExistenceErrors: "ENABLED" });
    expect(client.Properties.ExplicitAuthFlows).toEqual(
      expect.arrayContaining(["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]),
    );
    expect(client.Properties.ExplicitAuthFlows).not.toContain("ALLOW_USER_PASSWORD_AUTH");
  });
});

describe("the review API's JWT authorizer", () => {
  it("checks bearer tokens issued by the reviewers' pool for its client", () => {
    const [poolId] = only("AWS::Cognito::UserPool");
    const [clientId] = only("AWS::Cognito::UserPoolClient");
    const [, authorizer] = only("AWS::ApiGatewayV2::Authorizer");

    expect(authorizer.Properties).toMatchObject({
      AuthorizerType: "JWT",
      IdentitySource: ["$request.header.Authorization"],
      JwtConfiguration: { Audience: [{ Ref: clientId }] },
    });
    const issuer = JSON.stringify((authorizer.Properties.JwtConfiguration as { Issuer: unknown }).Issuer);
    expect(issuer).toContain("https://cognito-idp.");
    expect(issuer).toContain(`{"Ref":"${poolId}"}`);
  });

  it("guards every /api route, /api/sft/* included, but the health check and ingest", () => {
    const [authorizerId] = only("AWS::ApiGatewayV2::Authorizer");

    expect(route("ANY /api/{proxy+}").Properties).toMatchObject({
      AuthorizationType: "JWT",
      AuthorizerId: { Ref: authorizerId },
    });
    for (const open of ["GET /api/health", "POST /api/sft/ingest"]) {
      const properties = route(open).Properties;
      expect(properties.AuthorizationType ?? "NONE", open).toBe("NONE");
      expect(properties.AuthorizerId, open).toBeUndefined();
      expect(properties.Target).toEqual(route("ANY /api/{proxy+}").Properties.Target);
    }
    const unguarded = resources("AWS::ApiGatewayV2::Route")
      .map(([, r]) => r.Properties)
      .filter((properties) => properties.AuthorizationType !== "JWT")
      .map((properties) => properties.RouteKey);
    expect(unguarded.sort()).toEqual(["GET /api/health", "POST /api/sft/ingest"]);
  });
});

describe("the API function", () => {
  it("gets the table, the bucket and the runs prefix, and no dev token", () => {
    const variables = (apiFunction().Properties.Environment as { Variables: Record<string, unknown> })
      .Variables;
    expect(variables).toMatchObject({
      TABLE_NAME: { Ref: expect.any(String) },
      BUCKET_NAME: { Ref: expect.stringMatching(/^StorageBucket/) },
      RUNS_PREFIX: BUCKET_PREFIXES.runs,
    });
    expect(variables.REVIEWER_TOKEN).toBeUndefined();
  });

  it("reads, puts and updates items and queries the indexes, but never scans or deletes", () => {
    const statements = apiStatements().filter((s) =>
      asArray(s.Action).some((a) => a.startsWith("dynamodb:")),
    );
    const actions = statements.flatMap((s) => asArray(s.Action));
    expect([...new Set(actions)].sort()).toEqual([
      "dynamodb:BatchGetItem",
      "dynamodb:ConditionCheckItem",
      "dynamodb:GetItem",
      "dynamodb:PutItem",
      "dynamodb:Query",
      "dynamodb:UpdateItem",
    ]);
    const [tableId] = only("AWS::DynamoDB::Table");
    const targets = JSON.stringify(statements.flatMap((s) => asArray(s.Resource)));
    expect(targets).toContain(`{"Fn::GetAtt":["${tableId}","Arn"]}`);
    expect(targets).toContain("/index/*");
  });

  // exports/: it signs export download links and builds Avocet's SFT export (tests/infra/exports.test.ts).
  // quarantine/runs/: an import it hands on keeps its quarantine file as a part, by a copy.
  it("reads runs/, blobs/, exports/ and a run's quarantine, writes quarantine/, blobs/ and exports/, and lists only runs/", () => {
    expect(patternsFor("s3:GetObject")).toEqual([
      `${BUCKET_PREFIXES.blobs}*`,
      `${BUCKET_PREFIXES.exports}*`,
      `${BUCKET_PREFIXES.quarantine}runs/*`,
      `${BUCKET_PREFIXES.runs}*`,
    ]);
    expect(patternsFor("s3:PutObject")).toEqual([
      `${BUCKET_PREFIXES.blobs}*`,
      `${BUCKET_PREFIXES.exports}*`,
      `${BUCKET_PREFIXES.quarantine}*`,
    ]);
    expect(patternsFor("s3:AbortMultipartUpload")).toEqual(patternsFor("s3:PutObject"));
    const listing = apiStatements().filter((s) => asArray(s.Action).includes("s3:ListBucket"));
    expect(listing).toEqual([
      expect.objectContaining({
        Resource: { "Fn::GetAtt": [dataBucketId(), "Arn"] },
        Condition: { StringLike: { "s3:prefix": [`${BUCKET_PREFIXES.runs}*`] } },
      }),
    ]);
    const s3Actions = apiStatements().flatMap((s) => asArray(s.Action).filter((a) => a.startsWith("s3:")));
    expect([...new Set(s3Actions)].sort()).toEqual([
      "s3:AbortMultipartUpload",
      "s3:GetObject",
      "s3:ListBucket",
      "s3:PutObject",
    ]);
  });

  it("is granted nothing else: no wildcard actions, no other service, `*` only for X-Ray", () => {
    const statements = apiStatements();
    const actions = statements.flatMap((s) => asArray(s.Action));
    expect(actions.filter((action) => action.includes("*"))).toEqual([]);
    expect([...new Set(actions.map((action) => action.split(":")[0]))].sort()).toEqual([
      "dynamodb",
      "s3",
      // It reads the product ingest tokens' secret (asserted in ingest.test.ts).
      "secretsmanager",
      // Starting a judge run sends to the judge queue (asserted in eval.test.ts).
      "sqs",
      "xray",
    ]);
    const onEverything = statements.filter((s) => asArray(s.Resource).includes("*"));
    expect(onEverything.flatMap((s) => asArray(s.Action)).every((a) => a.startsWith("xray:"))).toBe(true);
  });
});
