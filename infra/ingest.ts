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
  /** The HTTP ingest handler, `functions/ingest-api.ts`, which serves `POST /api/sft/ingest`. */
  readonly ingestApiEntry: string;
  /**
   * The product machine clients: the user pool that issues their client-credentials tokens
   * (`INGEST_USER_POOL_ID`) and, as JSON, each client's id → the one source it may ingest for
   * (`INGEST_CLIENT_SOURCES`). Absent when no product client is declared.
   */
  readonly machineClients?: { readonly userPoolId: string; readonly sources: string };
  readonly bundling?: BundlingOptions;
}

/** CDK context naming each queue sender's sources (SQS sender id → sources). */
export const INGEST_QUEUE_SENDERS_CONTEXT = "ingestQueueSenders";
/** Context key: each product source's defaults (its model), for both ingest paths. */
export const INGEST_SOURCE_DEFAULTS_CONTEXT = "ingestSourceDefaults";
/** Context key: the sources Avocet's one shared secret (`_legacy` in the tokens secret) may still ingest for. */
export const INGEST_LEGACY_SOURCES_CONTEXT = "ingestLegacySources";

/**
 * Corrections from products: the corrections queue (with its DLQ) and the function that stores
 * each message once as an approved record; the HTTP ingest endpoint's function of its own, which
 * may only insert, and the product tokens it checks.
 */
export class Ingest extends Construct {
  readonly corrections: ResilientQueue;
  readonly ingestCorrections: ProjectFunction;
  /** Serves `POST /api/sft/ingest`: the products' open route, kept apart from the API function's role. */
  readonly ingestApi: ProjectFunction;
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

    this.ingestApi = new ProjectFunction(this, "IngestApi", {
      entry: props.ingestApiEntry,
      description: "Stores a correction a product posts to POST /api/sft/ingest as an approved record",
      // API Gateway gives up on an integration after 30 seconds.
      timeout: Duration.seconds(29),
      bundling: props.bundling,
    })
      .bindTable(props.table, "insert")
      // A refused body is answered, never quarantined: the only objects it writes are big bodies.
      .bindBucket(props.bucket, { write: [BUCKET_PREFIXES.blobs] });
    if (props.machineClients) {
      this.ingestApi.addEnvironment("INGEST_USER_POOL_ID", props.machineClients.userPoolId);
      this.ingestApi.addEnvironment("INGEST_CLIENT_SOURCES", props.machineClients.sources);
    }
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
      this.ingestApi.addEnvironment("INGEST_SOURCE_DEFAULTS", json);
    }
    // `-c ingestLegacySources='["kiwi"]'`: old products keep posting with the shared secret while
    // they move to tokens of their own; no other source may use it.
    const legacy = this.node.tryGetContext(INGEST_LEGACY_SOURCES_CONTEXT) as unknown;
    if (legacy) {
      this.ingestApi.addEnvironment(
        "INGEST_LEGACY_SOURCES",
        typeof legacy === "string" ? legacy : JSON.stringify(legacy),
      );
    }

    this.tokens = new Secret(this, "IngestTokens", {
      description: "Flywheel ingest tokens: a JSON object of product source → bearer token",
      // Not a secret itself: an empty map, replaced by the operator with the products' tokens.
      secretStringValue: SecretValue.unsafePlainText("{}"),
    });
    acknowledgeNag(
      this.tokens,
      "AwsSolutions-SMG4",
      "Product tokens are rotated by updating the secret per product; the ingest function re-reads it within a minute, so no rotation Lambda is needed.",
    );
    this.ingestApi.bindSecret("INGEST_TOKENS_SECRET_ARN", this.tokens);
  }
}
