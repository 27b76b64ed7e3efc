import type { AwsClients } from "../common/adapters/aws-clients.ts";
import { CandidateViews } from "../common/adapters/candidate-view.ts";
import { S3Bodies } from "../common/adapters/s3-objects.ts";
import type { JudgeConfig, SuggestApiConfig } from "../common/config.ts";
import { SqsJudgeQueue } from "../eval/adapters/judge-queue.ts";
import { DEFAULT_RUN_DEFAULTS } from "../eval/domain/judge-run.ts";
import { judgeModels } from "../eval/wiring.ts";
import { QueueTable } from "../review/adapters/queue-table.ts";
import { SuggestionTable } from "./adapters/suggestion-table.ts";
import type { SuggestMessage } from "./domain/job.ts";
import type { SuggestCandidateDeps } from "./usecases/suggest-candidate.ts";
import type { SuggestionJobDeps } from "./usecases/suggestion-jobs.ts";

function suggestionStore(clients: AwsClients, names: { tableName: string; bucket: string }) {
  const views = new CandidateViews(new S3Bodies(clients.s3, names.bucket));
  return { views, store: new SuggestionTable(clients.dynamodb, names.tableName, views) };
}

/** What the suggestion routes call. */
export function suggestionApiDeps(clients: AwsClients, config: SuggestApiConfig): SuggestionJobDeps {
  const names = { tableName: config.TABLE_NAME, bucket: config.BUCKET_NAME };
  const { views, store } = suggestionStore(clients, names);
  return {
    store,
    queue: new QueueTable(clients.dynamodb, names.tableName, views),
    messages: config.SUGGEST_QUEUE_URL
      ? new SqsJudgeQueue<SuggestMessage>(clients.sqs, config.SUGGEST_QUEUE_URL)
      : undefined,
    defaults: {
      model: config.JUDGE_DEFAULT_MODEL ?? DEFAULT_RUN_DEFAULTS.model,
      backend: config.JUDGE_DEFAULT_BACKEND ?? DEFAULT_RUN_DEFAULTS.backend,
    },
  };
}

/** The suggestion function: the judge's model backends and the store. */
export function suggestDeps(clients: AwsClients, config: JudgeConfig): SuggestCandidateDeps {
  const { store } = suggestionStore(clients, { tableName: config.TABLE_NAME, bucket: config.BUCKET_NAME });
  return { store, models: judgeModels(config) };
}
