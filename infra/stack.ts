import { fileURLToPath } from "node:url";
import { CfnOutput, Stack, type StackProps } from "aws-cdk-lib";
import type { BundlingOptions } from "aws-cdk-lib/aws-lambda-nodejs";
import type { ISource } from "aws-cdk-lib/aws-s3-deployment";
import type { Construct } from "constructs";
import { Eval } from "./eval.ts";
import { Exports } from "./exports.ts";
import { Ingest } from "./ingest.ts";
import { MACHINE_CLIENTS_CONTEXT, parseMachineClients } from "./machine-clients.ts";
import { Monitoring } from "./monitoring.ts";
import { ReviewApi } from "./review-api.ts";
import { Reviewers } from "./reviewers.ts";
import { Storage } from "./storage.ts";
import { Suggestions } from "./suggestions.ts";
import { Uploads } from "./uploads.ts";
import { Web } from "./web.ts";

const functionEntry = (file: string): string =>
  fileURLToPath(new URL(`../functions/${file}`, import.meta.url));

export interface FlywheelStackProps extends StackProps {
  /** Overrides of the functions' bundling defaults (tests use it to skip work they do not assert). */
  readonly bundling?: BundlingOptions;
  /** The web UI's files. Default: `web/` built with Vite at synth time (tests may pass a stand-in). */
  readonly webSite?: ISource;
}

/** `cdk deploy -c signInDomainPrefix=<prefix>`: the hosted UI's domain prefix, when the default is taken. */
export const SIGN_IN_DOMAIN_PREFIX_CONTEXT = "signInDomainPrefix";
/** `cdk deploy -c cliCallbackUrls='["http://localhost:8976/callback"]'`: the CLI's redirect URIs. */
export const CLI_CALLBACK_URLS_CONTEXT = "cliCallbackUrls";

/** A context value given as JSON text on the command line, or as the value itself in cdk.json. */
const jsonContext = (value: unknown): unknown =>
  typeof value === "string" && /^\s*[[{]/.test(value) ? JSON.parse(value) : value;

/**
 * Flywheel in one stack, one construct per capability: storage (stateful), uploads, review API,
 * ingest, eval, web UI, exports; monitoring (alarms and the dashboard) over all of them.
 * No `env`: the template is environment-agnostic and synthesises without AWS credentials.
 */
export class FlywheelStack extends Stack {
  constructor(scope: Construct, id: string, props: FlywheelStackProps = {}) {
    super(scope, id, props);
    const { bundling } = props;

    const storage = new Storage(this, "Storage");
    const { table, bucket } = storage;

    const uploads = new Uploads(this, "Uploads", {
      table,
      bucket,
      importRunEntry: functionEntry("import-run.ts"),
      bundling,
    });

    const cliCallbackUrls = jsonContext(this.node.tryGetContext(CLI_CALLBACK_URLS_CONTEXT)) as
      | string[]
      | undefined;
    const reviewers = new Reviewers(this, "Reviewers", {
      preTokenEntry: functionEntry("pre-token.ts"),
      bundling,
      machineClients: parseMachineClients(this.node.tryGetContext(MACHINE_CLIENTS_CONTEXT)),
      ...(cliCallbackUrls ? { cliCallbackUrls } : {}),
    });

    const clientSources = reviewers.clientSources();
    const ingest = new Ingest(this, "Ingest", {
      table,
      bucket,
      ingestEntry: functionEntry("ingest-corrections.ts"),
      ingestApiEntry: functionEntry("ingest-api.ts"),
      ...(clientSources
        ? { machineClients: { userPoolId: reviewers.userPool.userPoolId, sources: clientSources } }
        : {}),
      bundling,
    });

    const reviewApi = new ReviewApi(this, "ReviewApi", {
      table,
      bucket,
      apiEntry: functionEntry("api.ts"),
      authorizer: reviewers.authorizer,
      // Products' ingest runs in a function that may only insert.
      routeHandlers: { "POST /api/sft/ingest": ingest.ingestApi },
      bundling,
    });
    // `POST /api/sft/import` hands a run too big for the request on to the import function.
    uploads.allowHandingOn(reviewApi.handler);

    const evaluation = new Eval(this, "Eval", {
      table,
      bucket,
      judgeEntry: functionEntry("judge.ts"),
      api: reviewApi.handler,
      bundling,
    });

    const suggestions = new Suggestions(this, "Suggestions", {
      table,
      bucket,
      suggestEntry: functionEntry("suggest.ts"),
      api: reviewApi.handler,
      models: evaluation,
      bundling,
    });

    const web = new Web(this, "Web", {
      api: reviewApi.httpApi,
      reviewers,
      accessLogsBucket: storage.accessLogsBucket,
      signInDomainPrefix: this.node.tryGetContext(SIGN_IN_DOMAIN_PREFIX_CONTEXT) as string | undefined,
      site: props.webSite,
    });

    const exportsCapability = new Exports(this, "Exports", {
      table,
      bucket,
      exportEntry: functionEntry("export.ts"),
      api: reviewApi.handler,
      bundling,
    });

    // Last: it finds every function and queue created above and alarms on each.
    const monitoring = new Monitoring(this, "Monitoring", { api: reviewApi.httpApi });

    new CfnOutput(this, "BucketName", { value: bucket.bucketName });
    new CfnOutput(this, "TableName", { value: table.tableName });
    new CfnOutput(this, "RunUploadsQueueUrl", { value: uploads.runUploads.queue.queueUrl });
    new CfnOutput(this, "RunUploadsDeadLetterQueueUrl", {
      value: uploads.runUploads.deadLetterQueue.queueUrl,
    });
    new CfnOutput(this, "ApiUrl", { value: reviewApi.stage.url });
    new CfnOutput(this, "JudgeQueueUrl", { value: evaluation.judgeQueue.queue.queueUrl });
    new CfnOutput(this, "JudgeDeadLetterQueueUrl", { value: evaluation.judgeQueue.deadLetterQueue.queueUrl });
    new CfnOutput(this, "SuggestionQueueUrl", { value: suggestions.queue.queue.queueUrl });
    new CfnOutput(this, "SuggestionDeadLetterQueueUrl", {
      value: suggestions.queue.deadLetterQueue.queueUrl,
    });
    new CfnOutput(this, "CorrectionsQueueUrl", { value: ingest.corrections.queue.queueUrl });
    new CfnOutput(this, "CorrectionsDeadLetterQueueUrl", {
      value: ingest.corrections.deadLetterQueue.queueUrl,
    });
    new CfnOutput(this, "IngestTokensSecretArn", { value: ingest.tokens.secretArn });
    new CfnOutput(this, "ExportsQueueUrl", { value: exportsCapability.exportsQueue.queue.queueUrl });
    new CfnOutput(this, "ExportsDeadLetterQueueUrl", {
      value: exportsCapability.exportsQueue.deadLetterQueue.queueUrl,
    });
    new CfnOutput(this, "ReviewerUserPoolId", { value: reviewers.userPool.userPoolId });
    new CfnOutput(this, "ReviewerClientId", { value: reviewers.client.userPoolClientId });
    new CfnOutput(this, "CliClientId", {
      value: reviewers.cliClient.userPoolClientId,
      description: "flywheel login --client-id",
    });
    new CfnOutput(this, "IssuerUrl", {
      value: reviewers.issuerUrl(),
      description: "flywheel login --auth-url: the user pool's issuer",
    });
    new CfnOutput(this, "WebUrl", { value: web.url });
    new CfnOutput(this, "SignInUrl", { value: web.signInUrl });
    new CfnOutput(this, "AlarmTopicArn", {
      value: monitoring.topic.topicArn,
      description: "Every alarm notifies this topic: aws sns subscribe --topic-arn <arn> --protocol email …",
    });
  }
}
