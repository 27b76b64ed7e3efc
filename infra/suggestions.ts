import { Duration } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import type { BundlingOptions } from "aws-cdk-lib/aws-lambda-nodejs";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { BUCKET_PREFIXES, QUEUES } from "../lib/common/resources.ts";
import { ProjectFunction } from "./constructs/project-function.ts";
import { ResilientQueue } from "./constructs/resilient-queue.ts";
import type { Eval } from "./eval.ts";

export interface SuggestionsProps {
  readonly table: ITable;
  readonly bucket: IBucket;
  /** The suggestion handler, `functions/suggest.ts`. */
  readonly suggestEntry: string;
  /** The API function: it starts jobs by putting one message per candidate on the queue. */
  readonly api: ProjectFunction;
  /** The judge's construct: the suggestion function calls the same LLM backends, configured alike. */
  readonly models: Eval;
  readonly bundling?: BundlingOptions;
}

/**
 * Suggested corrections: the suggestion queue (with its DLQ) that `POST /api/sft/suggestions`
 * fills with one message per candidate, and the function that asks the LLM for a corrected
 * answer and stores it beside the candidate. Its alarms come from the monitoring construct,
 * which finds every function and queue of the stack.
 */
export class Suggestions extends Construct {
  readonly queue: ResilientQueue;
  readonly handler: ProjectFunction;

  constructor(scope: Construct, id: string, props: SuggestionsProps) {
    super(scope, id);
    const declaration = QUEUES.suggestions;
    this.queue = new ResilientQueue(this, "SuggestionQueue", { declaration });
    this.handler = new ProjectFunction(this, "Suggest", {
      entry: props.suggestEntry,
      description: "Suggests corrected answers for review candidates with an LLM",
      timeout: Duration.seconds(declaration.handlerTimeoutSeconds),
      bundling: props.bundling,
    })
      .bindTable(props.table, "suggest")
      // A candidate's prompt and answer may live under blobs/ when too big for its item.
      .bindBucket(props.bucket, { read: [BUCKET_PREFIXES.blobs] });
    this.queue.addConsumer(this.handler);
    props.models.allowModelCalls(this.handler);

    props.api.addEnvironment("SUGGEST_QUEUE_URL", this.queue.queue.queueUrl);
    this.queue.queue.grantSendMessages(props.api);
  }
}
