import { Duration, Stack } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import type { BundlingOptions } from "aws-cdk-lib/aws-lambda-nodejs";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { type ISecret, Secret } from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { BUCKET_PREFIXES, QUEUES } from "../lib/common/resources.ts";
import { acknowledgeNag, wildcardResourceFinding } from "./constructs/nag.ts";
import { ProjectFunction } from "./constructs/project-function.ts";
import { ResilientQueue } from "./constructs/resilient-queue.ts";

/** Context keys that configure the OpenAI-compatible judge backend at deploy time. */
export const EVAL_CONTEXT = {
  openAiBaseUrl: "judgeOpenAiBaseUrl",
  openAiApiKeySecretArn: "judgeOpenAiApiKeySecretArn",
  /** An Ollama server's OpenAI-compatible root (`backend: "ollama"`), reachable from the judge. */
  ollamaBaseUrl: "judgeOllamaBaseUrl",
  /** What `POST /api/eval/run` uses when the request names no model / backend (the old API's defaults). */
  defaultModel: "judgeDefaultModel",
  defaultBackend: "judgeDefaultBackend",
} as const;

export interface OpenAiCompatibleJudgeProps {
  /** The API root, e.g. `https://api.openai.com/v1`. */
  readonly baseUrl: string;
  /** The secret holding the key (the key itself, or JSON with `api_key`). */
  readonly apiKeySecret?: ISecret;
}

export interface EvalProps {
  readonly table: ITable;
  readonly bucket: IBucket;
  /** The judge handler, `functions/judge.ts`. */
  readonly judgeEntry: string;
  /** The API function: it starts runs by putting messages on the judge queue. */
  readonly api: ProjectFunction;
  /** @default read from the context keys in `EVAL_CONTEXT`; absent turns the backend off */
  readonly openAiCompatible?: OpenAiCompatibleJudgeProps;
  readonly bundling?: BundlingOptions;
}

/**
 * LLM-as-judge evaluation: the judge queue (with its DLQ) that `POST /api/eval/run` fills with
 * one message per session, and the judge function that consumes it and calls the model,
 * Amazon Bedrock or an OpenAI-compatible endpoint.
 */
export class Eval extends Construct {
  readonly judgeQueue: ResilientQueue;
  readonly judge: ProjectFunction;
  private readonly openAi: OpenAiCompatibleJudgeProps | undefined;

  constructor(scope: Construct, id: string, props: EvalProps) {
    super(scope, id);
    const declaration = QUEUES.judge;

    this.judgeQueue = new ResilientQueue(this, "JudgeQueue", { declaration });
    this.judge = new ProjectFunction(this, "Judge", {
      entry: props.judgeEntry,
      description: "Judges chat sessions against the rubric with an LLM",
      timeout: Duration.seconds(declaration.handlerTimeoutSeconds),
      bundling: props.bundling,
    })
      .bindTable(props.table, "judge")
      // Session messages too big for an item live under blobs/, and so do candidate bodies.
      .bindBucket(props.bucket, { read: [BUCKET_PREFIXES.blobs], write: [BUCKET_PREFIXES.blobs] });
    this.judgeQueue.addConsumer(this.judge);

    this.openAi = props.openAiCompatible ?? openAiFromContext(this);
    this.allowModelCalls(this.judge);

    const context = (key: string) => this.node.tryGetContext(key) as string | undefined;
    const defaultModel = context(EVAL_CONTEXT.defaultModel);
    if (defaultModel) props.api.addEnvironment("JUDGE_DEFAULT_MODEL", defaultModel);
    const defaultBackend = context(EVAL_CONTEXT.defaultBackend);
    if (defaultBackend) props.api.addEnvironment("JUDGE_DEFAULT_BACKEND", defaultBackend);

    props.api.addEnvironment("JUDGE_QUEUE_URL", this.judgeQueue.queue.queueUrl);
    this.judgeQueue.queue.grantSendMessages(props.api);
  }

  /**
   * Lets `fn` call the LLM backends the judge calls, configured the same way: Bedrock's Converse
   * on any foundation model and this account's inference profiles, the OpenAI-compatible endpoint
   * and its key's secret, the Ollama endpoint (the suggestion function uses it too).
   */
  allowModelCalls(fn: ProjectFunction): void {
    const stack = Stack.of(this);
    // Converse is authorised by InvokeModel. The model is chosen per run, so every foundation
    // model and this account's inference profiles (which route to models in other regions).
    const bedrockModels = [
      `arn:${stack.partition}:bedrock:*::foundation-model/*`,
      `arn:${stack.partition}:bedrock:${stack.region}:${stack.account}:inference-profile/*`,
    ];
    fn.addToRolePolicy(new PolicyStatement({ actions: ["bedrock:InvokeModel"], resources: bedrockModels }));
    for (const arn of bedrockModels) {
      acknowledgeNag(
        fn,
        wildcardResourceFinding(fn, arn),
        "Each run or job names its model, so the function may invoke any Bedrock model and inference profile, and nothing else.",
      );
    }
    if (this.openAi) {
      fn.addEnvironment("JUDGE_OPENAI_BASE_URL", this.openAi.baseUrl);
      if (this.openAi.apiKeySecret) {
        fn.addEnvironment("JUDGE_OPENAI_API_KEY_SECRET_ARN", this.openAi.apiKeySecret.secretArn);
        this.openAi.apiKeySecret.grantRead(fn);
      }
    }
    const ollama = this.node.tryGetContext(EVAL_CONTEXT.ollamaBaseUrl) as string | undefined;
    if (ollama) fn.addEnvironment("JUDGE_OLLAMA_BASE_URL", ollama);
  }
}

function openAiFromContext(scope: Construct): OpenAiCompatibleJudgeProps | undefined {
  const baseUrl = scope.node.tryGetContext(EVAL_CONTEXT.openAiBaseUrl) as string | undefined;
  if (!baseUrl) return undefined;
  const secretArn = scope.node.tryGetContext(EVAL_CONTEXT.openAiApiKeySecretArn) as string | undefined;
  return {
    baseUrl,
    apiKeySecret: secretArn ? Secret.fromSecretCompleteArn(scope, "JudgeApiKey", secretArn) : undefined,
  };
}
