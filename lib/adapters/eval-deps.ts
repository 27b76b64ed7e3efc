import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { EvalApiConfig, JudgeConfig } from "../config.ts";
import type { EvalRouteDeps } from "../http/eval-routes.ts";
import type { JudgeSessionDeps } from "../usecases/judge-session.ts";
import type { AwsClients } from "./aws-clients.ts";
import { BedrockConverseJudge } from "./bedrock-judge.ts";
import { CandidateTable } from "./candidate-table.ts";
import { EvalSessionIndex } from "./eval-session-index.ts";
import { EvalSessionTable } from "./eval-session-table.ts";
import { secretApiKey, staticApiKey } from "./judge-api-key.ts";
import { SqsJudgeQueue } from "./judge-queue.ts";
import { JudgeRunTable } from "./judge-run-table.ts";
import { OpenAiCompatibleJudge } from "./openai-judge.ts";
import { S3Bodies } from "./s3-objects.ts";
import { S3SessionMessageBlobs } from "./session-blobs.ts";

/** Sessions, runs and the review-queue insert, wired to DynamoDB and S3. */
function evalStores(clients: AwsClients, names: { tableName: string; bucket: string }) {
  const index = new EvalSessionIndex(clients.dynamodb, names.tableName);
  return {
    sessions: new EvalSessionTable(
      clients.dynamodb,
      names.tableName,
      new S3SessionMessageBlobs(clients.s3, names.bucket),
      index,
    ),
    runs: new JudgeRunTable(clients.dynamodb, names.tableName, index),
    candidates: new CandidateTable(clients.dynamodb, names.tableName, new S3Bodies(clients.s3, names.bucket)),
  };
}

/** What the eval routes call. */
export function evalApiDeps(clients: AwsClients, config: EvalApiConfig): EvalRouteDeps {
  const { sessions, runs, candidates } = evalStores(clients, {
    tableName: config.TABLE_NAME,
    bucket: config.BUCKET_NAME,
  });
  return {
    sessions: { sessions, candidates },
    runs: {
      runs,
      sessions,
      queue: config.JUDGE_QUEUE_URL ? new SqsJudgeQueue(clients.sqs, config.JUDGE_QUEUE_URL) : undefined,
    },
  };
}

/** The judge with every backend this deployment configures. */
export function judgeDeps(clients: AwsClients, config: JudgeConfig): JudgeSessionDeps {
  const stores = evalStores(clients, { tableName: config.TABLE_NAME, bucket: config.BUCKET_NAME });
  const apiKey = config.JUDGE_OPENAI_API_KEY_SECRET_ARN
    ? secretApiKey(
        new SecretsManagerClient({ region: config.AWS_REGION }),
        config.JUDGE_OPENAI_API_KEY_SECRET_ARN,
      )
    : staticApiKey(config.JUDGE_OPENAI_API_KEY);
  return {
    ...stores,
    judges: {
      openai: config.JUDGE_OPENAI_BASE_URL
        ? new OpenAiCompatibleJudge({
            baseUrl: config.JUDGE_OPENAI_BASE_URL,
            apiKey,
            timeoutMs: config.JUDGE_TIMEOUT_MS,
          })
        : undefined,
      bedrock: new BedrockConverseJudge(
        new BedrockRuntimeClient({ region: config.JUDGE_BEDROCK_REGION ?? config.AWS_REGION }),
        { timeoutMs: config.JUDGE_TIMEOUT_MS },
      ),
    },
  };
}
