import { Duration } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import type { BundlingOptions } from "aws-cdk-lib/aws-lambda-nodejs";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import { Construct } from "constructs";
import { buildCodeVersion } from "../lib/common/code-version.ts";
import { BUCKET_PREFIXES, QUEUES } from "../lib/common/resources.ts";
import { ProjectFunction } from "./constructs/project-function.ts";
import { ResilientQueue } from "./constructs/resilient-queue.ts";

/** Every export's checkpoint state objects, `exports/<id>/checkpoints/…`, as an IAM object pattern. */
const EXPORT_CHECKPOINTS = `${BUCKET_PREFIXES.exports}*/checkpoints/`;

export interface ExportsProps {
  readonly table: ITable;
  readonly bucket: IBucket;
  /** The export handler, `functions/export.ts`. */
  readonly exportEntry: string;
  /** The API function: it starts jobs, signs download links and builds Avocet's SFT export. */
  readonly api: ProjectFunction;
  /** Recorded in every manifest. @default the package version and the git commit at synth */
  readonly codeVersion?: string;
  readonly bundling?: BundlingOptions;
}

/**
 * Training-data exports: the exports queue (with its DLQ) that `POST /api/exports` puts one
 * message per job on, and the export function that reads candidates through the status index
 * and streams the dataset, its quarantine and its manifest under `exports/` — the only prefix it
 * may write.
 */
export class Exports extends Construct {
  readonly exportsQueue: ResilientQueue;
  readonly exporter: ProjectFunction;

  constructor(scope: Construct, id: string, props: ExportsProps) {
    super(scope, id);
    const declaration = QUEUES.exports;
    const codeVersion = props.codeVersion ?? buildCodeVersion();

    this.exportsQueue = new ResilientQueue(this, "ExportsQueue", { declaration });
    this.exporter = new ProjectFunction(this, "Export", {
      entry: props.exportEntry,
      description: "Streams training datasets to S3 through the contamination firewall",
      timeout: Duration.seconds(declaration.handlerTimeoutSeconds),
      // Lambda's CPU grows with memory; the export's own memory stays flat well below this.
      memorySize: 1024,
      environment: { CODE_VERSION: codeVersion },
      bundling: props.bundling,
    })
      // Queries the status index and moves its job's state; never scans, never deletes.
      .bindTable(props.table, "export")
      // Reads the bodies too big for an item and the registered eval sets; writes exports, and
      // the n-gram index of an eval set version it finds unindexed; never changes a set.
      .bindBucket(props.bucket, {
        read: [BUCKET_PREFIXES.blobs, BUCKET_PREFIXES.evalsets, BUCKET_PREFIXES.evalsetIndex],
        list: [BUCKET_PREFIXES.evalsets, BUCKET_PREFIXES.evalsetIndex],
        write: [BUCKET_PREFIXES.exports, BUCKET_PREFIXES.evalsetIndex],
      })
      // Reads back and removes its own checkpoints' state objects (exports/<id>/checkpoints/).
      .bindBucket(props.bucket, { read: [EXPORT_CHECKPOINTS], list: [], delete: [EXPORT_CHECKPOINTS] });
    this.exportsQueue.addConsumer(this.exporter);
    // An export that runs short of time saves a checkpoint and hands the rest on to its own queue.
    this.exporter.addEnvironment("EXPORTS_QUEUE_URL", this.exportsQueue.queue.queueUrl);
    this.exportsQueue.queue.grantSendMessages(this.exporter);
    // Eval sets: the API registers (writes evalsets/<name>/items.jsonl), lists, indexes and
    // removes them; an export it builds itself (GET /api/sft/export) reads them as the function does.
    props.api.bindBucket(props.bucket, {
      read: [BUCKET_PREFIXES.evalsets, BUCKET_PREFIXES.evalsetIndex],
      list: [BUCKET_PREFIXES.evalsets, BUCKET_PREFIXES.evalsetIndex],
      write: [BUCKET_PREFIXES.evalsets, BUCKET_PREFIXES.evalsetIndex],
      delete: [BUCKET_PREFIXES.evalsets, BUCKET_PREFIXES.evalsetIndex],
    });

    props.api.addEnvironment("EXPORTS_QUEUE_URL", this.exportsQueue.queue.queueUrl);
    props.api.addEnvironment("CODE_VERSION", codeVersion);
    this.exportsQueue.queue.grantSendMessages(props.api);
    // A presigned GET works only if its signer may read the object. `GET /api/sft/export` builds
    // a bounded SFT export within the request, so the API also writes under exports/.
    props.api.bindBucket(props.bucket, {
      read: [BUCKET_PREFIXES.exports],
      list: [],
      write: [BUCKET_PREFIXES.exports],
    });
    // Dataset versions: a pin copies an export's files (and lists a RAG export's documents) into
    // datasets/, which no lifecycle rule expires, and signs their downloads. Nothing may delete
    // there: a pinned version is never changed.
    props.api.bindBucket(props.bucket, {
      read: [BUCKET_PREFIXES.datasets],
      list: [BUCKET_PREFIXES.exports, BUCKET_PREFIXES.datasets],
      write: [BUCKET_PREFIXES.datasets],
    });
  }
}
