import { Duration, Stack } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import type { BundlingOptions } from "aws-cdk-lib/aws-lambda-nodejs";
import { EventType, type IBucket } from "aws-cdk-lib/aws-s3";
import { SqsDestination } from "aws-cdk-lib/aws-s3-notifications";
import { Construct } from "constructs";
import { BUCKET_PREFIXES, QUEUES, RUN_UPLOAD } from "../lib/common/resources.ts";
import { acknowledgeNag } from "./constructs/nag.ts";
import { ProjectFunction } from "./constructs/project-function.ts";
import { ResilientQueue } from "./constructs/resilient-queue.ts";

/**
 * Where imports keep the quarantine of a run (`quarantine/runs/<run_id>/…`, as
 * `lib/common/adapters/s3-objects.ts` lays it out), apart from the ingest quarantine.
 */
export const RUN_QUARANTINE_PREFIX = `${BUCKET_PREFIXES.quarantine}runs/`;

export interface UploadsProps {
  readonly table: ITable;
  readonly bucket: IBucket;
  /** The import handler, `functions/import-run.ts`. */
  readonly importRunEntry: string;
  readonly bundling?: BundlingOptions;
}

/**
 * Run uploads: an object created under `runs/…/sft_candidates.jsonl` becomes a message on the
 * run-uploads queue, which the import function consumes.
 */
export class Uploads extends Construct {
  readonly runUploads: ResilientQueue;
  readonly importRun: ProjectFunction;

  constructor(scope: Construct, id: string, props: UploadsProps) {
    super(scope, id);
    const declaration = QUEUES.runUploads;

    this.runUploads = new ResilientQueue(this, "RunUploads", { declaration });
    props.bucket.addEventNotification(EventType.OBJECT_CREATED, new SqsDestination(this.runUploads.queue), {
      prefix: RUN_UPLOAD.prefix,
      suffix: RUN_UPLOAD.suffix,
    });
    acknowledgeNotificationsHandler(Stack.of(this));

    this.importRun = new ProjectFunction(this, "ImportRun", {
      entry: props.importRunEntry,
      description: "Imports an uploaded run file into the table, quarantining bad lines",
      timeout: Duration.seconds(declaration.handlerTimeoutSeconds),
      memorySize: 1024,
      bundling: props.bundling,
    })
      // Reads items by key, creates and updates them; never queries, deletes or batch-writes.
      .bindTable(props.table, "import")
      // An import handed on across invocations keeps its quarantine in parts (a copy of the first
      // invocation's file), reads them back into one file when it finishes and deletes them.
      .bindBucket(props.bucket, {
        read: [BUCKET_PREFIXES.runs, RUN_QUARANTINE_PREFIX],
        list: [BUCKET_PREFIXES.runs],
        write: [BUCKET_PREFIXES.quarantine, BUCKET_PREFIXES.blobs],
        delete: [RUN_QUARANTINE_PREFIX],
      });
    this.runUploads.addConsumer(this.importRun);
    this.allowHandingOn(this.importRun);
  }

  /**
   * Lets `fn` hand the rest of an import that runs short of time on to the run-uploads queue,
   * as a continuation the import function picks up.
   */
  allowHandingOn(fn: ProjectFunction): void {
    fn.addEnvironment("RUN_UPLOADS_QUEUE_URL", this.runUploads.queue.queueUrl);
    this.runUploads.queue.grantSendMessages(fn);
  }
}

/**
 * `addEventNotification` deploys a stack-wide handler owned by CDK (a singleton whose id starts
 * with `BucketNotificationsHandler`) that configures the bucket's notifications at deploy time.
 */
function acknowledgeNotificationsHandler(stack: Stack): void {
  for (const child of stack.node.children) {
    if (!child.node.id.startsWith("BucketNotificationsHandler")) continue;
    acknowledgeNag(
      child,
      "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
      "CDK's bucket-notifications handler only needs to write its own logs, which this managed policy allows.",
    );
  }
}
