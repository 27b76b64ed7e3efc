import { Duration, SecretValue } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import type { BundlingOptions } from "aws-cdk-lib/aws-lambda-nodejs";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { Secret } from "aws-cdk-lib/aws-secretsmanager";
import { Construct } from "constructs";
import { BUCKET_PREFIXES, INGEST_QUARANTINE_PREFIX, QUEUES } from "../lib/common/resources.ts";
import { acknowledgeNag } from "./constructs/nag.ts";
import { ProjectFunction } from "./constructs/project-function.ts";
import { ResilientQueue } from "./constructs/resilient-queue.ts";

export interface IngestProps {
  readonly table: ITable;
  readonly bucket: IBucket;
  /** The corrections consumer, `functions/ingest-corrections.ts`. */
  readonly ingestEntry: string;
  /** The API function, which serves `POST /api/sft/ingest` and so reads the product tokens. */
  readonly apiFunction: ProjectFunction;
  readonly bundling?: BundlingOptions;
}

/**
 * Corrections from products: the corrections queue (with its DLQ) and the function that stores
 * each message once as an approved record, and the product tokens of the HTTP ingest endpoint.
 */
/** CDK context naming each queue sender's sources (SQS sender id → sources). */
export const INGEST_QUEUE_SENDERS_CONTEXT = "ingestQueueSenders";
/** Context key: each product source's defaults (its model), for both ingest paths. */
export const INGEST_SOURCE_DEFAULTS_CONTEXT = "ingestSourceDefaults";

export class Ingest extends Construct {
  readonly corrections: ResilientQueue;
  readonly ingestCorrections: ProjectFunction;
  /** Product tokens as a JSON object of source → token; `{}` (ingest answers 503) until set. */
  readonly tokens: Secret;

  constructor(scope: Construct, id: string, props: IngestProps) {
    super(scope, id);
    const declaration = QUEUES.corrections;

    this.corrections = new ResilientQueue(this, "Corrections", { declaration });
    this.ingestCorrections = new ProjectFunction(this, "IngestCorrections", {
      entry: props.ingestEntry,
      description: "Stores corrections from products as approved records, quarantining bad messages",
      timeout: Duration.seconds(declaration.handlerTimeoutSeconds),
      bundling: props.bundling,
    })
      .bindTable(props.table, "insert")
      .bindBucket(props.bucket, { write: [INGEST_QUARANTINE_PREFIX, BUCKET_PREFIXES.blobs] });
    this.corrections.addConsumer(this.ingestCorrections);
    // `-c ingestQueueSenders='{"AROA…":["kiwi"]}'` binds queue senders to their sources.
    const senders = this.node.tryGetContext(INGEST_QUEUE_SENDERS_CONTEXT) as unknown;
    if (senders) {
      this.ingestCorrections.addEnvironment(
        "INGEST_QUEUE_SENDERS",
        typeof senders === "string" ? senders : JSON.stringify(senders),
      );
    }
    // `-c ingestSourceDefaults='{"kiwi":{"model":"Llama-3.2-3B"}}'`: a product that never names
    // its model (Avocet's ingest body) is still traceable; the queue and the endpoint agree.
    const defaults = this.node.tryGetContext(INGEST_SOURCE_DEFAULTS_CONTEXT) as unknown;
    if (defaults) {
      const json = typeof defaults === "string" ? defaults : JSON.stringify(defaults);
      this.ingestCorrections.addEnvironment("INGEST_SOURCE_DEFAULTS", json);
      props.apiFunction.addEnvironment("INGEST_SOURCE_DEFAULTS", json);
    }

    this.tokens = new Secret(this, "IngestTokens", {
      description: "Flywheel ingest tokens: a JSON object of product source → bearer token",
      // Not a secret itself: an empty map, replaced by the operator with the products' tokens.
      secretStringValue: SecretValue.unsafePlainText("{}"),
    });
    acknowledgeNag(
      this.tokens,
      "AwsSolutions-SMG4",
      "Product tokens are rotated by updating the secret per product; the API re-reads it within a minute, so no rotation Lambda is needed.",
    );
    props.apiFunction.bindSecret("INGEST_TOKENS_SECRET_ARN", this.tokens);
  }
}
