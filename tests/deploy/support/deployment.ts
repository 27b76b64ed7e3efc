import { randomBytes, randomUUID } from "node:crypto";
import { type AwsClients, createAwsClients } from "../../../lib/common/adapters/aws-clients.ts";
import { dlqName, QUEUES } from "../../../lib/common/resources.ts";
import { type Provisioned, provision } from "../../../local/provision.ts";
import { type FakeJudgeServer, startFakeJudgeServer } from "../../support/fake-judge-server.ts";
import { startFakeSecretsManager } from "./fake-secrets-manager.ts";
import { deniedCalls, type ResolvedStatement, statementsOfRole } from "./iam.ts";
import { type RunningFunction, startFunction } from "./lambda-process.ts";
import { type AwsCall, type RecordingProxy, startRecordingProxy } from "./recording-proxy.ts";
import {
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  type LocalResourceMap,
  localResourceMap,
  resolveValue,
} from "./resolve.ts";
import {
  type CfnTemplate,
  type SynthesizedFunction,
  type SynthesizedStack,
  synthesizeStack,
} from "./synth.ts";

export interface LocalDeployment {
  readonly stack: SynthesizedStack;
  readonly resources: Provisioned;
  /** The test's own clients, straight to the emulators (their calls are not recorded). */
  readonly clients: AwsClients;
  readonly map: LocalResourceMap;
  readonly judge: FakeJudgeServer;
  /** Source → token, as the ingest tokens secret holds them. */
  readonly ingestTokens: Record<string, string>;
  /** Every AWS call a function made, with the access key that names the function. */
  readonly calls: AwsCall[];
  /** The environment `fn` runs with: its template variables resolved, and what Lambda sets. */
  environmentOf(fn: SynthesizedFunction, template?: CfnTemplate): Record<string, string>;
  /** The access key `fn` signs with, which names it in `calls`. */
  principalOf(fn: SynthesizedFunction): string;
  /** The statements of `fn`'s role in `template` (the synthesized one by default), resolved locally. */
  statementsOf(fn: SynthesizedFunction, template?: CfnTemplate): ResolvedStatement[];
  /** The calls `fn` made that its role in `template` does not allow. */
  deniedCallsOf(fn: SynthesizedFunction, template?: CfnTemplate): string[];
  /** Starts `fn`'s bundle in a fresh process with its environment from `template`. */
  start(fn: SynthesizedFunction, template?: CfnTemplate): Promise<RunningFunction>;
  stop(): Promise<void>;
}

/** The judge's API key, as the operator's secret holds it. */
const JUDGE_API_KEY = `sk-deploy-${randomBytes(8).toString("hex")}`;

/**
 * Stands the synthesized stack up against the emulators: provisions its table, bucket and queues
 * under unique names, serves its secrets, points the judge at the fake model server, and puts a
 * recording proxy in front of every emulator so each function's AWS calls can be checked against
 * its role. The stack is synthesized as an operator would deploy it, with the judge's
 * OpenAI-compatible endpoint and key secret given as context.
 */
export async function startLocalDeployment(endpoints: {
  dynamodb: string;
  aws: string;
}): Promise<LocalDeployment> {
  const calls: AwsCall[] = [];
  const suffix = `deploy-${randomUUID().slice(0, 8)}`;
  const clients = createAwsClients({
    AWS_REGION: LOCAL_REGION,
    AWS_ENDPOINT_URL_DYNAMODB: endpoints.dynamodb,
    AWS_ENDPOINT_URL_S3: endpoints.aws,
    AWS_ENDPOINT_URL_SQS: endpoints.aws,
  });
  const proxies: RecordingProxy[] = await Promise.all([
    startRecordingProxy("dynamodb", endpoints.dynamodb, calls),
    startRecordingProxy("s3", endpoints.aws, calls),
    startRecordingProxy("sqs", endpoints.aws, calls),
  ]);
  const [dynamodbProxy, s3Proxy, sqsProxy] = proxies as [RecordingProxy, RecordingProxy, RecordingProxy];
  const judge = await startFakeJudgeServer({ apiKey: JUDGE_API_KEY });
  const judgeKeyArn = `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:flywheel-judge-key-Ab12Cd`;
  const secrets: Record<string, string> = { [judgeKeyArn]: JSON.stringify({ api_key: JUDGE_API_KEY }) };
  const secretsManager = await startFakeSecretsManager(secrets, calls);

  const servers = [...proxies, secretsManager, judge];
  const closeServers = () => Promise.all(servers.map((server) => server.close()));
  let stack: SynthesizedStack;
  try {
    stack = synthesizeStack({
      judgeOpenAiBaseUrl: judge.baseUrl,
      judgeOpenAiApiKeySecretArn: judgeKeyArn,
    });
  } catch (error) {
    await closeServers();
    throw error;
  }
  const resources = await provision(clients, {
    tableName: `flywheel-${suffix}`,
    bucket: `flywheel-${suffix}`,
    queuePrefix: `${suffix}-`,
  });
  const queues: Record<string, { url: string; arn: string }> = {};
  for (const queue of Object.values(resources.queues)) {
    const base = queue.name.slice(`${suffix}-`.length);
    queues[base] = { url: queue.url, arn: queue.arn };
    queues[dlqName(base)] = { url: queue.dlqUrl, arn: queue.arn.replace(/[^:]+$/, dlqName(queue.name)) };
  }
  const ingestTokens = { kiwi: `kiwi-${randomBytes(12).toString("hex")}` };
  const secretIds: Record<string, string> = {};
  for (const [id, resource] of Object.entries(stack.template.Resources)) {
    if (resource.Type !== "AWS::SecretsManager::Secret") continue;
    const arn = `arn:aws:secretsmanager:${LOCAL_REGION}:${LOCAL_ACCOUNT}:secret:${id}-${randomBytes(3).toString("hex")}`;
    secretIds[id] = arn;
    // The operator replaces the ingest tokens' `{}` with the products' tokens after deploying.
    secrets[arn] = JSON.stringify(ingestTokens);
  }
  const map = localResourceMap(stack.template, {
    tableName: resources.tableName,
    bucket: resources.bucket,
    queues,
    secrets: secretIds,
  });
  expectEveryQueueDeclared(queues);

  // DynamoDB Local accepts access keys of letters and digits only.
  const principalOf = (fn: SynthesizedFunction) => `DEPLOY${fn.logicalId}`;
  const templateOf = (template?: CfnTemplate) => template ?? stack.template;
  const running: RunningFunction[] = [];

  const environmentOf = (fn: SynthesizedFunction, template?: CfnTemplate): Record<string, string> => {
    const resource = templateOf(template).Resources[fn.logicalId];
    const variables =
      (resource?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ??
      {};
    const fromTemplate: Record<string, string> = {};
    for (const [name, value] of Object.entries(variables)) {
      try {
        fromTemplate[name] = resolveValue(value, map);
      } catch (error) {
        throw new Error(`${fn.logicalId}: environment variable ${name}: ${(error as Error).message}`);
      }
    }
    // What the Lambda service sets; a template may not set these (Lambda reserves them).
    const service: Record<string, string> = {
      AWS_REGION: LOCAL_REGION,
      AWS_DEFAULT_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: principalOf(fn),
      AWS_SECRET_ACCESS_KEY: "deploy-secret",
      AWS_SESSION_TOKEN: "deploy-session",
      AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
      AWS_LAMBDA_FUNCTION_VERSION: "$LATEST",
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memoryMb),
      AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${fn.logicalId}`,
      AWS_LAMBDA_LOG_STREAM_NAME: "deploy-smoke",
      AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
      TZ: ":UTC",
      LANG: "en_US.UTF-8",
      PATH: process.env.PATH ?? "/usr/bin:/bin",
    };
    // Local stand-ins for AWS's own endpoints (the SDK reads these), and this machine's Node 20.
    const local: Record<string, string> = {
      AWS_ENDPOINT_URL_DYNAMODB: dynamodbProxy.endpoint,
      AWS_ENDPOINT_URL_S3: s3Proxy.endpoint,
      AWS_ENDPOINT_URL_SQS: sqsProxy.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secretsManager.endpoint,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    };
    const reserved = Object.keys(fromTemplate).filter((name) => name in service || name in local);
    if (reserved.length > 0) throw new Error(`${fn.logicalId}: the template sets reserved ${reserved}`);
    return { ...service, ...local, ...fromTemplate };
  };

  const statementsOf = (fn: SynthesizedFunction, template?: CfnTemplate) => {
    const role = templateOf(template).Resources[fn.logicalId]?.Properties?.Role as
      | { "Fn::GetAtt"?: [string, string] }
      | undefined;
    const roleId = role?.["Fn::GetAtt"]?.[0];
    if (!roleId) throw new Error(`${fn.logicalId} has no role of the template`);
    return statementsOfRole(templateOf(template), roleId, map);
  };

  return {
    stack,
    resources,
    clients,
    map,
    judge,
    ingestTokens,
    calls,
    environmentOf,
    principalOf,
    statementsOf,
    deniedCallsOf: (fn, template) =>
      deniedCalls(
        statementsOf(fn, template),
        calls.filter((call) => call.principal === principalOf(fn)),
      ),
    async start(fn, template) {
      const started = await startFunction(fn, environmentOf(fn, template));
      running.push(started);
      return started;
    },
    async stop() {
      await Promise.all(running.map((fn) => fn.stop()));
      await closeServers();
      stack.remove();
    },
  };
}

function expectEveryQueueDeclared(queues: Record<string, unknown>): void {
  for (const declaration of Object.values(QUEUES)) {
    if (!queues[declaration.name]) throw new Error(`queue ${declaration.name} was not provisioned`);
  }
}
