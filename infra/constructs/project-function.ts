import { Duration, RemovalPolicy } from "aws-cdk-lib";
import type { ITable } from "aws-cdk-lib/aws-dynamodb";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { Architecture, Runtime, Tracing } from "aws-cdk-lib/aws-lambda";
import { type BundlingOptions, NodejsFunction, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { LogGroup, RetentionDays } from "aws-cdk-lib/aws-logs";
import type { IBucket } from "aws-cdk-lib/aws-s3";
import type { ISecret } from "aws-cdk-lib/aws-secretsmanager";
import type { Construct } from "constructs";
import { acknowledgeNag, wildcardResourceFinding } from "./nag.ts";

export const SERVICE_NAME = "flywheel";

export interface ProjectFunctionProps {
  /** Absolute path of the handler file; it must export `handler`. */
  readonly entry: string;
  readonly description?: string;
  /** @default 30 seconds */
  readonly timeout?: Duration;
  /** @default 512 MB */
  readonly memorySize?: number;
  readonly environment?: Record<string, string>;
  /** Overrides of the bundling defaults, merged over them. */
  readonly bundling?: BundlingOptions;
}

export type TableAccess =
  | "insert"
  | "import"
  | "judge"
  | "suggest"
  | "export"
  | "read"
  | "readUpdate"
  | "readWrite";

/**
 * What the handlers do with the table. `Scan` and `DescribeTable` are left out on purpose:
 * every read path goes through a key or an index, and IAM is where that is enforced.
 * `TransactWriteItems` has no IAM action of its own; it is authorised by the item actions it
 * carries plus `ConditionCheckItem`.
 */
const TABLE_ACTIONS: Record<TableAccess, readonly string[]> = {
  /**
   * Creates items and moves counters (a conditional Put and an Update in one transaction), and
   * reads back by key an item it may have stored before (a retried idempotent delivery); never
   * queries, changes nothing else, deletes nothing.
   */
  insert: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
  /**
   * An import: reads items by key (one by one and in batches), creates candidates and moves their
   * counters, updates its run; never queries an index, never deletes, never batch-writes.
   */
  import: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
  /**
   * The judge: reads sessions and runs by key and by query, records evaluations and makes
   * candidates (transactions of Puts and Updates); never reads in batches, never deletes.
   */
  judge: ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"],
  /**
   * An export run: reads candidates through the status index, the stats counters' shards in one
   * batch (the statuses it does not read are counted in the manifest), reads its job's checkpoint
   * pointer by key, and moves its job's state; creates nothing (the API creates and reads jobs).
   */
  export: ["dynamodb:GetItem", "dynamodb:Query", "dynamodb:BatchGetItem", "dynamodb:UpdateItem"],
  /**
   * A suggestion: reads its job and its candidate by key, writes the suggestion on the candidate
   * and counts it on the job with a marker (a transaction of an Update and a Put); never queries.
   */
  suggest: ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
  read: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
  /**
   * Reads, creates and changes items, never deletes them. No `ConditionCheckItem`: only the
   * counter recount's repair checks items in a transaction, and in AWS the recount is refused
   * before it, at its scan.
   */
  readUpdate: [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
  ],
  readWrite: [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
  ],
};

export interface BucketAccess {
  /** Key prefixes (such as `runs/`) whose objects the function may read. */
  readonly read?: readonly string[];
  /** Key prefixes the function may list. @default the `read` prefixes */
  readonly list?: readonly string[];
  /** Key prefixes whose objects the function may create, including by multipart upload. */
  readonly write?: readonly string[];
  /** Key prefixes whose objects the function may delete (one by one or with DeleteObjects). */
  readonly delete?: readonly string[];
}

/**
 * The project's Lambda function: every default lives here, so a capability only says what is
 * particular to it (entry, timeout, memory) and binds the resources it uses through the
 * `bind…` helpers, which set the environment variable and grant the narrowest permission together.
 */
export class ProjectFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: ProjectFunctionProps) {
    super(scope, id, {
      entry: props.entry,
      handler: "handler",
      description: props.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(30),
      memorySize: props.memorySize ?? 512,
      tracing: Tracing.ACTIVE,
      logGroup: new LogGroup(scope, `${id}Logs`, {
        retention: RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      }),
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        NODE_OPTIONS: "--enable-source-maps",
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        target: "node22",
        minify: true,
        sourceMap: true,
        sourcesContent: false,
        // Prefer the ESM builds of dependencies so they tree-shake.
        mainFields: ["module", "main"],
        // Bundle the AWS SDK at the versions the lock file pins instead of the runtime's copy.
        externalModules: [],
        // Some bundled CommonJS dependencies still call `require`, which ESM lacks.
        banner:
          "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
        ...props.bundling,
      },
    });

    acknowledgeNag(
      this,
      "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
      "AWSLambdaBasicExecutionRole only lets the function create log streams and put log events.",
    );
    // This acknowledgement covers the whole role, so no bind helper may ever grant on `*`
    // (tests/infra/stack.test.ts checks that only X-Ray actions do).
    acknowledgeNag(
      this,
      "AwsSolutions-IAM5[Resource::*]",
      "Active tracing needs xray:PutTraceSegments and xray:PutTelemetryRecords, which support no resource-level permissions.",
    );
    acknowledgeNag(
      this,
      "AwsSolutions-L1",
      "The handlers are built and tested for Node.js 22; moving to a newer runtime is a deliberate upgrade, not a drift.",
    );
  }

  /** Sets `TABLE_NAME` and grants the item actions of `access` on the table and its indexes. */
  bindTable(table: ITable, access: TableAccess): this {
    this.addEnvironment("TABLE_NAME", table.tableName);
    if (access === "insert" || access === "import" || access === "suggest") {
      // These never query: the table itself, and none of its indexes.
      this.addToRolePolicy(
        new PolicyStatement({ actions: [...TABLE_ACTIONS[access]], resources: [table.tableArn] }),
      );
      return this;
    }
    table.grant(this, ...TABLE_ACTIONS[access]);
    acknowledgeNag(
      this,
      wildcardResourceFinding(this, `${table.tableArn}/index/*`),
      "Queries go through the table's global secondary indexes, all of which the function may read.",
    );
    return this;
  }

  /** Sets `envName` to the secret's ARN and lets the function read that secret, and no other. */
  bindSecret(envName: string, secret: ISecret): this {
    this.addEnvironment(envName, secret.secretArn);
    secret.grantRead(this);
    return this;
  }

  /** Sets `BUCKET_NAME` and grants object access only under the given key prefixes. */
  bindBucket(bucket: IBucket, access: BucketAccess): this {
    this.addEnvironment("BUCKET_NAME", bucket.bucketName);
    const read = access.read ?? [];
    const list = access.list ?? read;
    const write = access.write ?? [];
    const remove = access.delete ?? [];
    if (read.length > 0) {
      this.addToRolePolicy(
        new PolicyStatement({
          actions: ["s3:GetObject"],
          resources: read.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
        }),
      );
    }
    if (list.length > 0) {
      // Without ListBucket a missing key reads as 403 rather than 404; the condition keeps
      // listing to the given prefixes.
      this.addToRolePolicy(
        new PolicyStatement({
          actions: ["s3:ListBucket"],
          resources: [bucket.bucketArn],
          conditions: { StringLike: { "s3:prefix": list.map((prefix) => `${prefix}*`) } },
        }),
      );
    }
    if (write.length > 0) {
      this.addToRolePolicy(
        new PolicyStatement({
          actions: ["s3:PutObject", "s3:AbortMultipartUpload"],
          resources: write.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
        }),
      );
    }
    if (remove.length > 0) {
      this.addToRolePolicy(
        new PolicyStatement({
          actions: ["s3:DeleteObject"],
          resources: remove.map((prefix) => bucket.arnForObjects(`${prefix}*`)),
        }),
      );
    }
    for (const prefix of new Set([...read, ...write, ...remove])) {
      acknowledgeNag(
        this,
        wildcardResourceFinding(this, bucket.arnForObjects(`${prefix}*`)),
        `Object access is limited to the ${prefix} key prefix the function works on.`,
      );
    }
    return this;
  }
}
