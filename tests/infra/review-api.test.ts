import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LOGIN_PORT } from "../../cli/auth.ts";
import { parseMachineClients } from "../../infra/machine-clients.ts";
import {
  DEFAULT_ROUTE_THROTTLE,
  gatewayRouteKey,
  ROUTE_THROTTLES,
  throttleFamilyOf,
} from "../../infra/review-api.ts";
import { CLI_LOGIN_PORT, DEFAULT_CLI_CALLBACK_URLS } from "../../infra/reviewers.ts";
import { FlywheelStack } from "../../infra/stack.ts";
import {
  ALL_ROLES,
  ALL_SCOPES,
  type DeclaredRoute,
  ROLES,
  ROUTE_ACCESS,
  type RouteAccess,
  scopeName,
} from "../../lib/common/http/access.ts";
import { BUCKET_PREFIXES } from "../../lib/common/resources.ts";
import { API_ROUTE, functionIdBehind } from "./support.ts";

type Resource = {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: string | string[];
};
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

let template: Template;

beforeAll(() => {
  // These assertions read the template only: no CloudFormation schema check, no asset bundling.
  const app = new App({
    builtinCloudFormationValidation: false,
    context: { "aws:cdk:bundling-stacks": [] },
  });
  template = Template.fromStack(new FlywheelStack(app, "Flywheel"));
});

const asArray = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];
const resourcesIn = (t: Template, type: string) =>
  Object.entries(t.findResources(type)) as [string, Resource][];
const resources = (type: string) => resourcesIn(template, type);
const only = (type: string) => {
  const found = resources(type);
  expect(found, `exactly one ${type}`).toHaveLength(1);
  return found[0] as [string, Resource];
};
const ref = (value: unknown) => (value as { Ref?: string }).Ref;
const getAttId = (value: unknown) => (value as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
const outputRef = (t: Template, name: string) =>
  ref((t.toJSON().Outputs as Record<string, { Value: unknown }>)[name]?.Value) as string;

function routeIn(t: Template, routeKey: string): Resource {
  const found = resourcesIn(t, "AWS::ApiGatewayV2::Route").filter(
    ([, r]) => r.Properties.RouteKey === routeKey,
  );
  expect(found, routeKey).toHaveLength(1);
  return (found[0] as [string, Resource])[1];
}
const route = (routeKey: string) => routeIn(template, routeKey);

const apiFunctionId = () => functionIdBehind(template, API_ROUTE);
function apiFunction(): Resource {
  const fn = template.findResources("AWS::Lambda::Function")[apiFunctionId()] as Resource | undefined;
  if (!fn) throw new Error("no API function");
  return fn;
}

function statementsOfFunction(t: Template, functionId: string): Statement[] {
  const fn = t.findResources("AWS::Lambda::Function")[functionId] as Resource;
  const roleId = getAttId(fn.Properties.Role);
  return resourcesIn(t, "AWS::IAM::Policy")
    .filter(([, policy]) => (policy.Properties.Roles as unknown[]).some((role) => ref(role) === roleId))
    .flatMap(([, policy]) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}
const apiStatements = () => statementsOfFunction(template, apiFunctionId());

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

/** An allowed OAuth scope as written: text, or the resource server's identifier (its Ref) joined to a scope. */
function scopeText(value: unknown): string {
  if (typeof value === "string") return value;
  const [, parts] = (value as { "Fn::Join": [string, unknown[]] })["Fn::Join"];
  return parts
    .map((part) => {
      if (typeof part === "string") return part;
      const server = template.toJSON().Resources[ref(part) as string] as Resource | undefined;
      return server?.Properties.Identifier as string;
    })
    .join("");
}
const scopesOf = (client: Resource) => asArray(client.Properties.AllowedOAuthScopes).map(scopeText).sort();

const declaredRoutes = Object.entries(ROUTE_ACCESS) as [DeclaredRoute, RouteAccess][];
const personScopes = ["openid", "email", "profile", ...ALL_SCOPES.map(scopeName)];

describe("people", () => {
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

  it("get one group per role of ROLES", () => {
    const [poolId] = only("AWS::Cognito::UserPool");
    const groups = resources("AWS::Cognito::UserPoolGroup").map(([, g]) => g.Properties);
    expect(groups.map((g) => g.GroupName).sort()).toEqual([...ALL_ROLES].sort());
    for (const group of groups) expect(ref(group.UserPoolId)).toBe(poolId);
  });

  it("get the scopes of their groups on their access tokens, from a V2_0 pre-token-generation trigger (Essentials plan)", () => {
    const [, pool] = only("AWS::Cognito::UserPool");
    expect(pool.Properties.UserPoolTier).toBe("ESSENTIALS");
    const config = (pool.Properties.LambdaConfig as { PreTokenGenerationConfig: Record<string, unknown> })
      .PreTokenGenerationConfig;
    expect(config.LambdaVersion).toBe("V2_0");
    const fn = template.findResources("AWS::Lambda::Function")[getAttId(config.LambdaArn)] as Resource;
    expect(fn.Properties).toMatchObject({ Runtime: "nodejs22.x", Timeout: 5 });
    // It computes a list: no AWS call but its logs and traces.
    const actions = statementsOfFunction(template, getAttId(config.LambdaArn)).flatMap((s) =>
      asArray(s.Action),
    );
    expect(actions.every((a) => a.startsWith("xray:"))).toBe(true);
    template.hasResourceProperties("AWS::Lambda::Permission", {
      Action: "lambda:InvokeFunction",
      FunctionName: { "Fn::GetAtt": [getAttId(config.LambdaArn), "Arn"] },
      Principal: "cognito-idp.amazonaws.com",
    });
  });

  it("sign in to the web UI through a public client with SRP and the hosted UI, allowed the flywheel scopes", () => {
    const webId = outputRef(template, "ReviewerClientId");
    const client = template.findResources("AWS::Cognito::UserPoolClient")[webId] as Resource;
    expect(client.Properties).toMatchObject({
      GenerateSecret: false,
      PreventUserExistenceErrors: "ENABLED",
      AllowedOAuthFlows: ["code"],
      AllowedOAuthScopes: personScopes,
    });
    expect(client.Properties.ExplicitAuthFlows).toEqual(
      expect.arrayContaining(["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]),
    );
    expect(client.Properties.ExplicitAuthFlows).not.toContain("ALLOW_USER_PASSWORD_AUTH");
    // Its scopes are the resource server's: the server exists before the client names them.
    const [serverId] = only("AWS::Cognito::UserPoolResourceServer");
    expect(asArray(template.toJSON().Resources[webId].DependsOn)).toContain(serverId);
  });

  it("sign in from the CLI through a public client: code flow with PKCE, back to a loopback address", () => {
    const cliId = outputRef(template, "CliClientId");
    const client = template.findResources("AWS::Cognito::UserPoolClient")[cliId] as Resource;
    expect(client.Properties).toMatchObject({
      ClientName: "flywheel-cli",
      GenerateSecret: false,
      AllowedOAuthFlowsUserPoolClient: true,
      AllowedOAuthFlows: ["code"],
      CallbackURLs: DEFAULT_CLI_CALLBACK_URLS,
      SupportedIdentityProviders: ["COGNITO"],
    });
    expect(scopesOf(client)).toEqual([...personScopes].sort());
    const [serverId] = only("AWS::Cognito::UserPoolResourceServer");
    expect(asArray(template.toJSON().Resources[cliId].DependsOn)).toContain(serverId);
    // The CLI's default port: Cognito matches the redirect URI port and all.
    expect(CLI_LOGIN_PORT).toBe(DEFAULT_LOGIN_PORT);
    expect(DEFAULT_CLI_CALLBACK_URLS).toEqual([`http://localhost:${DEFAULT_LOGIN_PORT}/callback`]);
  });

  it("takes the CLI's redirect URIs from the cliCallbackUrls context", () => {
    const urls = ["http://localhost:9000/callback", "http://localhost:8976/callback"];
    const app = new App({
      builtinCloudFormationValidation: false,
      context: { "aws:cdk:bundling-stacks": [], cliCallbackUrls: JSON.stringify(urls) },
    });
    const other = Template.fromStack(new FlywheelStack(app, "Flywheel"));
    other.hasResourceProperties("AWS::Cognito::UserPoolClient", {
      ClientName: "flywheel-cli",
      CallbackURLs: urls,
    });
  });

  it("publish the CLI's client id and the pool's issuer (flywheel login --client-id, --auth-url)", () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.CliClientId?.Value).toEqual({ Ref: outputRef(template, "CliClientId") });
    const issuer = JSON.stringify(outputs.IssuerUrl?.Value);
    expect(issuer).toContain("https://cognito-idp.");
    expect(issuer).toContain(`{"Ref":"${only("AWS::Cognito::UserPool")[0]}"}`);
  });
});

describe("the resource server", () => {
  it("is `flywheel`, with exactly the scopes of access.ts", () => {
    const [, server] = only("AWS::Cognito::UserPoolResourceServer");
    expect(server.Properties.Identifier).toBe("flywheel");
    const scopes = server.Properties.Scopes as { ScopeName: string; ScopeDescription: string }[];
    expect(scopes.map((s) => s.ScopeName).sort()).toEqual([...ALL_SCOPES].sort());
    for (const scope of scopes) {
      expect(scope.ScopeDescription.length).toBeGreaterThan(0);
      expect(scope.ScopeDescription.length).toBeLessThanOrEqual(256);
    }
  });
});

describe("the JWT authorizer", () => {
  it("checks tokens issued by the pool for any of its API clients: web UI and CLI", () => {
    const [poolId] = only("AWS::Cognito::UserPool");
    const [, authorizer] = only("AWS::ApiGatewayV2::Authorizer");
    expect(authorizer.Properties).toMatchObject({
      AuthorizerType: "JWT",
      IdentitySource: ["$request.header.Authorization"],
      JwtConfiguration: {
        Audience: [
          { Ref: outputRef(template, "ReviewerClientId") },
          { Ref: outputRef(template, "CliClientId") },
        ],
      },
    });
    const issuer = JSON.stringify((authorizer.Properties.JwtConfiguration as { Issuer: unknown }).Issuer);
    expect(issuer).toContain("https://cognito-idp.");
    expect(issuer).toContain(`{"Ref":"${poolId}"}`);
  });
});

describe("routes", () => {
  it("are exactly ROUTE_ACCESS's, path parameters as API Gateway writes them, and no catch-all", () => {
    const keys = resources("AWS::ApiGatewayV2::Route").map(([, r]) => r.Properties.RouteKey);
    expect([...keys].sort()).toEqual(declaredRoutes.map(([r]) => gatewayRouteKey(r)).sort());
    expect(keys).toContain("GET /api/sft/candidates/{id}");
    expect(keys).toContain("GET /api/eval/feedback/{session_id}");
    expect(keys.some((key) => String(key).includes("proxy+"))).toBe(false);
  });

  it("carry the JWT authorizer and the scope ROUTE_ACCESS declares, every scoped one", () => {
    const [authorizerId] = only("AWS::ApiGatewayV2::Authorizer");
    for (const [declared, access] of declaredRoutes) {
      if (access === "open") continue;
      expect(route(gatewayRouteKey(declared)).Properties, declared).toMatchObject({
        AuthorizationType: "JWT",
        AuthorizerId: { Ref: authorizerId },
        AuthorizationScopes: [scopeName(access)],
      });
    }
  });

  it("leave only the open ones (health, ingest) without authorizer or scopes", () => {
    const open = declaredRoutes.filter(([, access]) => access === "open").map(([r]) => gatewayRouteKey(r));
    expect(open).toEqual(expect.arrayContaining(["GET /api/health", "POST /api/sft/ingest"]));
    for (const key of open) {
      const properties = route(key).Properties;
      expect(properties.AuthorizationType ?? "NONE", key).toBe("NONE");
      expect(properties.AuthorizerId, key).toBeUndefined();
      expect(properties.AuthorizationScopes, key).toBeUndefined();
    }
    const unguarded = resources("AWS::ApiGatewayV2::Route")
      .map(([, r]) => r.Properties)
      .filter((properties) => properties.AuthorizationType !== "JWT")
      .map((properties) => properties.RouteKey);
    expect(unguarded.sort()).toEqual(open.sort());
  });

  it("reach the API function, all but ingest, which goes to a function of its own", () => {
    const ingestId = functionIdBehind(template, "POST /api/sft/ingest");
    expect(ingestId).not.toBe(apiFunctionId());
    for (const [declared] of declaredRoutes) {
      const key = gatewayRouteKey(declared);
      expect(functionIdBehind(template, key), key).toBe(
        declared === "POST /api/sft/ingest" ? ingestId : apiFunctionId(),
      );
    }
    for (const [, integration] of resources("AWS::ApiGatewayV2::Integration")) {
      expect(integration.Properties).toMatchObject({
        IntegrationType: "AWS_PROXY",
        PayloadFormatVersion: "2.0",
      });
    }
  });

  it("may invoke each function through one permission for the API, whatever the number of routes", () => {
    const [apiId] = only("AWS::ApiGatewayV2::Api");
    for (const functionId of [apiFunctionId(), functionIdBehind(template, "POST /api/sft/ingest")]) {
      const permissions = resources("AWS::Lambda::Permission").filter(
        ([, p]) =>
          getAttId(p.Properties.FunctionName) === functionId &&
          p.Properties.Principal === "apigateway.amazonaws.com",
      );
      expect(permissions, functionId).toHaveLength(1);
      const source = JSON.stringify((permissions[0] as [string, Resource])[1].Properties.SourceArn);
      expect(source).toContain(`{"Ref":"${apiId}"}`);
    }
  });
});

describe("throttles", () => {
  const stage = () => only("AWS::ApiGatewayV2::Stage");

  it("give every route its family's limits, the open ones apart from the reviewers' and ingest apart from health", () => {
    const settings = stage()[1].Properties.RouteSettings as Record<
      string,
      { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }
    >;
    expect(Object.keys(settings).sort()).toEqual(declaredRoutes.map(([r]) => gatewayRouteKey(r)).sort());
    for (const [declared] of declaredRoutes) {
      const limits = ROUTE_THROTTLES[throttleFamilyOf(declared)];
      expect(settings[gatewayRouteKey(declared)], declared).toEqual({
        ThrottlingRateLimit: limits.rateLimit,
        ThrottlingBurstLimit: limits.burstLimit,
      });
    }
    expect(throttleFamilyOf("GET /api/health")).toBe("open");
    expect(throttleFamilyOf("POST /api/sft/ingest")).toBe("ingest");
    expect(throttleFamilyOf("POST /api/sft/submit")).toBe("review");
    expect(throttleFamilyOf("POST /api/exports")).toBe("jobs");
    expect(throttleFamilyOf("POST /api/eval/feedback")).toBe("eval-write");
    const limitsOf = (family: keyof typeof ROUTE_THROTTLES) => JSON.stringify(ROUTE_THROTTLES[family]);
    expect(new Set([limitsOf("open"), limitsOf("ingest"), limitsOf("review")]).size).toBe(3);
  });

  it("default to the strictest limits on the stage, which waits for the routes its settings name", () => {
    const [, resource] = stage();
    expect(resource.Properties).toMatchObject({
      StageName: "$default",
      AutoDeploy: true,
      DefaultRouteSettings: {
        ThrottlingRateLimit: DEFAULT_ROUTE_THROTTLE.rateLimit,
        ThrottlingBurstLimit: DEFAULT_ROUTE_THROTTLE.burstLimit,
      },
    });
    const routeIds = resources("AWS::ApiGatewayV2::Route").map(([id]) => id);
    expect(asArray(resource.DependsOn)).toEqual(expect.arrayContaining(routeIds));
  });
});

describe("the API function", () => {
  it("gets the table, the bucket and the runs prefix, and no dev token and no ingest tokens", () => {
    const variables = (apiFunction().Properties.Environment as { Variables: Record<string, unknown> })
      .Variables;
    expect(variables).toMatchObject({
      TABLE_NAME: { Ref: expect.any(String) },
      BUCKET_NAME: { Ref: expect.stringMatching(/^StorageBucket/) },
      RUNS_PREFIX: BUCKET_PREFIXES.runs,
    });
    expect(variables.REVIEWER_TOKEN).toBeUndefined();
    expect(variables.INGEST_TOKENS_SECRET_ARN).toBeUndefined();
  });

  it("reads, puts and updates items and queries the indexes, but never scans or deletes", () => {
    const statements = apiStatements().filter((s) =>
      asArray(s.Action).some((a) => a.startsWith("dynamodb:")),
    );
    const actions = statements.flatMap((s) => asArray(s.Action));
    expect([...new Set(actions)].sort()).toEqual([
      "dynamodb:BatchGetItem",
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
  // datasets/: it pins exports there as dataset versions and signs their files.
  // quarantine/runs/: an import it hands on keeps its quarantine file as a part, by a copy, and
  // the quarantine routes read it; quarantine/ingest/: those routes list and read refused messages.
  it("reads runs/, blobs/, exports/ and the quarantine, writes quarantine/, blobs/ and exports/, and lists only runs/ and the ingest quarantine", () => {
    expect(patternsFor("s3:GetObject")).toEqual([
      `${BUCKET_PREFIXES.blobs}*`,
      `${BUCKET_PREFIXES.datasets}*`,
      `${BUCKET_PREFIXES.evalsetIndex}*`,
      `${BUCKET_PREFIXES.evalsets}*`,
      `${BUCKET_PREFIXES.exports}*`,
      `${BUCKET_PREFIXES.quarantine}ingest/*`,
      `${BUCKET_PREFIXES.quarantine}runs/*`,
      `${BUCKET_PREFIXES.runs}*`,
    ]);
    expect(patternsFor("s3:PutObject")).toEqual([
      `${BUCKET_PREFIXES.blobs}*`,
      `${BUCKET_PREFIXES.datasets}*`,
      `${BUCKET_PREFIXES.evalsetIndex}*`,
      `${BUCKET_PREFIXES.evalsets}*`,
      `${BUCKET_PREFIXES.exports}*`,
      `${BUCKET_PREFIXES.quarantine}*`,
    ]);
    expect(patternsFor("s3:AbortMultipartUpload")).toEqual(patternsFor("s3:PutObject"));
    const listing = apiStatements().filter((s) => asArray(s.Action).includes("s3:ListBucket"));
    expect(listing).toEqual([
      expect.objectContaining({
        Resource: { "Fn::GetAtt": [dataBucketId(), "Arn"] },
        Condition: {
          StringLike: { "s3:prefix": [`${BUCKET_PREFIXES.runs}*`, `${BUCKET_PREFIXES.quarantine}ingest/*`] },
        },
      }),
      // Eval sets: registered, listed, indexed and removed (tests/infra/exports.test.ts).
      expect.objectContaining({
        Condition: {
          StringLike: { "s3:prefix": [`${BUCKET_PREFIXES.evalsets}*`, `${BUCKET_PREFIXES.evalsetIndex}*`] },
        },
      }),
      // Dataset pins list a RAG export's documents and the versions they copy them to.
      expect.objectContaining({
        Condition: {
          StringLike: { "s3:prefix": [`${BUCKET_PREFIXES.exports}*`, `${BUCKET_PREFIXES.datasets}*`] },
        },
      }),
    ]);
    const s3Actions = apiStatements().flatMap((s) => asArray(s.Action).filter((a) => a.startsWith("s3:")));
    expect([...new Set(s3Actions)].sort()).toEqual([
      "s3:AbortMultipartUpload",
      "s3:DeleteObject",
      "s3:GetObject",
      "s3:ListBucket",
      "s3:PutObject",
    ]);
    // It deletes nothing but eval sets and their indexes (DELETE /api/evalsets/{name}).
    expect(patternsFor("s3:DeleteObject")).toEqual([
      `${BUCKET_PREFIXES.evalsetIndex}*`,
      `${BUCKET_PREFIXES.evalsets}*`,
    ]);
  });

  it("is granted nothing else: no wildcard actions, no secret, no other service, `*` only for X-Ray", () => {
    const statements = apiStatements();
    const actions = statements.flatMap((s) => asArray(s.Action));
    expect(actions.filter((action) => action.includes("*"))).toEqual([]);
    expect([...new Set(actions.map((action) => action.split(":")[0]))].sort()).toEqual([
      "dynamodb",
      "s3",
      // Starting a judge run sends to the judge queue (asserted in eval.test.ts).
      "sqs",
      "xray",
    ]);
    const onEverything = statements.filter((s) => asArray(s.Resource).includes("*"));
    expect(onEverything.flatMap((s) => asArray(s.Action)).every((a) => a.startsWith("xray:"))).toBe(true);
  });
});

describe("machine clients", () => {
  const declared = [
    { name: "kiwi", roles: ["product"], source: "kiwi" },
    { name: "chat-bot", roles: ["eval-writer"] },
    { name: "harness", roles: ["exporter"] },
  ];
  let machines: Template;

  beforeAll(() => {
    const app = new App({
      builtinCloudFormationValidation: false,
      context: { "aws:cdk:bundling-stacks": [], machineClients: JSON.stringify(declared) },
    });
    machines = Template.fromStack(new FlywheelStack(app, "Flywheel"));
  });

  const clientNamed = (name: string): [string, Resource] => {
    const found = resourcesIn(machines, "AWS::Cognito::UserPoolClient").filter(
      ([, c]) => c.Properties.ClientName === `flywheel-${name}`,
    );
    expect(found, `the app client of ${name}`).toHaveLength(1);
    return found[0] as [string, Resource];
  };

  it("get one client-credentials app client each, with a secret and exactly its roles' scopes", () => {
    for (const { name, roles } of declared) {
      const [, client] = clientNamed(name);
      expect(client.Properties, name).toMatchObject({
        GenerateSecret: true,
        AllowedOAuthFlowsUserPoolClient: true,
        AllowedOAuthFlows: ["client_credentials"],
        ExplicitAuthFlows: ["ALLOW_REFRESH_TOKEN_AUTH"],
      });
      const expected = [...new Set(roles.flatMap((role) => ROLES[role as keyof typeof ROLES]))].map(
        scopeName,
      );
      expect(scopesOf(client), name).toEqual(expected.sort());
      expect(client.Properties.CallbackURLs, name).toBeUndefined();
    }
    // Web UI, CLI and one per machine: no other client.
    expect(resourcesIn(machines, "AWS::Cognito::UserPoolClient")).toHaveLength(2 + declared.length);
    expect(resourcesIn(template, "AWS::Cognito::UserPoolClient")).toHaveLength(2);
  });

  it("keep their id and secret in a secret each, whose ARN is an output", () => {
    const outputs = machines.toJSON().Outputs as Record<string, { Value: unknown }>;
    for (const { name } of declared) {
      const [clientId] = clientNamed(name);
      const secrets = resourcesIn(machines, "AWS::SecretsManager::Secret").filter(([, s]) =>
        JSON.stringify(s.Properties.SecretString).includes(`{"Ref":"${clientId}"}`),
      );
      expect(secrets, name).toHaveLength(1);
      const [secretId, secret] = secrets[0] as [string, Resource];
      const text = JSON.stringify(secret.Properties.SecretString);
      expect(text).toContain("client_id");
      expect(text).toContain("client_secret");
      const output = Object.entries(outputs).find(([, o]) => ref(o.Value) === secretId);
      expect(output?.[0], name).toMatch(/^Machine.*SecretArn$/);
    }
    // The client secret is read from Cognito at deploy time without the response being logged.
    const readers = resourcesIn(machines, "Custom::DescribeCognitoUserPoolClient");
    expect(readers).toHaveLength(declared.length);
    for (const [, reader] of readers) {
      expect(JSON.stringify(reader.Properties.Create)).toContain('\\"logApiResponseData\\":false');
      expect(JSON.stringify(reader.Properties.Update)).toContain('\\"logApiResponseData\\":false');
    }
  });

  it("are accepted by the JWT authorizer", () => {
    const [, authorizer] = resourcesIn(machines, "AWS::ApiGatewayV2::Authorizer")[0] as [string, Resource];
    const audience = (authorizer.Properties.JwtConfiguration as { Audience: unknown[] }).Audience;
    for (const { name } of declared) expect(audience, name).toContainEqual({ Ref: clientNamed(name)[0] });
  });

  it("bind each product client to its source for the ingest function (INGEST_CLIENT_SOURCES)", () => {
    const ingestId = functionIdBehind(machines, "POST /api/sft/ingest");
    const fn = machines.findResources("AWS::Lambda::Function")[ingestId] as Resource;
    const variable = (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables
      .INGEST_CLIENT_SOURCES;
    const text = JSON.stringify(variable);
    expect(text).toContain(`{"Ref":"${clientNamed("kiwi")[0]}"}`);
    expect(text).toContain("kiwi");
    expect(text).not.toContain(clientNamed("harness")[0]);
    const [poolId] = resourcesIn(machines, "AWS::Cognito::UserPool")[0] as [string, Resource];
    expect(
      (fn.Properties.Environment as { Variables: Record<string, unknown> }).Variables.INGEST_USER_POOL_ID,
    ).toEqual({
      Ref: poolId,
    });
    const plain = template.findResources("AWS::Lambda::Function")[
      functionIdBehind(template, "POST /api/sft/ingest")
    ] as Resource;
    expect(
      (plain.Properties.Environment as { Variables: Record<string, unknown> }).Variables
        .INGEST_CLIENT_SOURCES,
    ).toBeUndefined();
  });

  it("are declared with known roles, unique names, and a source for products only", () => {
    expect(parseMachineClients(undefined)).toEqual([]);
    expect(parseMachineClients(declared)).toEqual(declared);
    expect(() => parseMachineClients([{ name: "x", roles: ["owner"] }])).toThrow(/unknown role "owner"/);
    expect(() => parseMachineClients([{ name: "x", roles: [] }])).toThrow(/at least one/);
    expect(() => parseMachineClients([{ name: "Kiwi!", roles: ["product"] }])).toThrow(/name/);
    expect(() => parseMachineClients([{ name: "kiwi", roles: ["product"] }])).toThrow(/source/);
    expect(() => parseMachineClients([{ name: "h", roles: ["exporter"], source: "kiwi" }])).toThrow(
      /only a product/,
    );
    expect(() =>
      parseMachineClients([
        { name: "h", roles: ["exporter"] },
        { name: "h", roles: ["admin"] },
      ]),
    ).toThrow(/twice/);
  });
});
