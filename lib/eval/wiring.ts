import { BedrockRuntimeClient } from "@aws-sdk/client-bedrock-runtime";
import { SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import type { AwsClients } from "../common/adapters/aws-clients.ts";
import { CandidateTable } from "../common/adapters/candidate-table.ts";
import { S3Bodies } from "../common/adapters/s3-objects.ts";
import type { EvalApiConfig, JudgeConfig } from "../common/config.ts";
import { BedrockConverseJudge } from "./adapters/bedrock-judge.ts";
import { EvalProfileTable } from "./adapters/eval-profile-table.ts";
import { EvalSessionIndex } from "./adapters/eval-session-index.ts";
import { EvalSessionTable } from "./adapters/eval-session-table.ts";
import { secretApiKey, staticApiKey } from "./adapters/judge-api-key.ts";
import { SqsJudgeQueue } from "./adapters/judge-queue.ts";
import { JudgeRunTable } from "./adapters/judge-run-table.ts";
import { OpenAiCompatibleJudge } from "./adapters/openai-judge.ts";
import { S3SessionMessageBlobs } from "./adapters/session-blobs.ts";
import { DEFAULT_RUN_DEFAULTS } from "./domain/judge-run.ts";
import type { EvalRouteDeps } from "./edge/eval-routes.ts";
import type { JudgeSessionDeps } from "./usecases/judge-session.ts";

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
    profiles: new EvalProfileTable(clients.dynamodb, names.tableName),
  };
}

/** What the eval routes call. */
export function evalApiDeps(clients: AwsClients, config: EvalApiConfig): EvalRouteDeps {
  const { sessions, runs, candidates, profiles } = evalStores(clients, {
    tableName: config.TABLE_NAME,
    bucket: config.BUCKET_NAME,
  });
  return {
    sessions: { sessions, candidates },
    profiles: { profiles },
    runs: {
      runs,
      sessions,
      queue: config.JUDGE_QUEUE_URL ? new SqsJudgeQueue(clients.sqs, config.JUDGE_QUEUE_URL) : undefined,
      defaults: {
        model: config.JUDGE_DEFAULT_MODEL ?? DEFAULT_RUN_DEFAULTS.model,
        backend: config.JUDGE_DEFAULT_BACKEND ?? DEFAULT_RUN_DEFAULTS.backend,
      },
    },
  };
}

/**
 * The LLM backends this deployment configures, by name: the judge's, and the suggestion job's
 * (which reads the same `JUDGE_*` settings).
 */
export function judgeModels(config: JudgeConfig): JudgeSessionDeps["judges"] {
  const apiKey = config.JUDGE_OPENAI_API_KEY_SECRET_ARN
    ? secretApiKey(
        new SecretsManagerClient({ region: config.AWS_REGION }),
        config.JUDGE_OPENAI_API_KEY_SECRET_ARN,
      )
    : staticApiKey(config.JUDGE_OPENAI_API_KEY);
  return {
    openai: config.JUDGE_OPENAI_BASE_URL
      ? new OpenAiCompatibleJudge({
          baseUrl: config.JUDGE_OPENAI_BASE_URL,
          apiKey,
          timeoutMs: config.JUDGE_TIMEOUT_MS,
        })
      : undefined,
    ollama: config.JUDGE_OLLAMA_BASE_URL
      ? new OpenAiCompatibleJudge({
          baseUrl: config.JUDGE_OLLAMA_BASE_URL,
          apiKey: staticApiKey(config.JUDGE_OLLAMA_API_KEY),
          timeoutMs: config.JUDGE_TIMEOUT_MS,
        })
      : undefined,
    bedrock: new BedrockConverseJudge(
      new BedrockRuntimeClient({ region: config.JUDGE_BEDROCK_REGION ?? config.AWS_REGION }),
      { timeoutMs: config.JUDGE_TIMEOUT_MS },
    ),
  };
}

/** The judge with every backend this deployment configures. */
export function judgeDeps(clients: AwsClients, config: JudgeConfig): JudgeSessionDeps {
  const stores = evalStores(clients, { tableName: config.TABLE_NAME, bucket: config.BUCKET_NAME });
  return { ...stores, judges: judgeModels(config) };
}
