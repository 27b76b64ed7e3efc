import { App, Stack } from "aws-cdk-lib";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { ResilientQueue } from "../../infra/constructs/resilient-queue.ts";
import { FlywheelStack } from "../../infra/stack.ts";
import {
  BUCKET_PREFIXES,
  DLQ_RETENTION_SECONDS,
  dlqName,
  EXPORT_RETENTION_DAYS,
  QUEUES,
  RUN_UPLOAD,
  TABLE,
} from "../../lib/common/resources.ts";
import { getAtt } from "../support/template.ts";
import { API_ROUTE, functionIdBehind } from "./support.ts";

type Resource = { Type: string; Properties: Record<string, unknown>; DeletionPolicy?: string };
type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };

let template: Template;

beforeAll(() => {
  // CloudFormation schema validation runs in nag.test.ts and `cdk synth`; these assertions read
  // the template only, so they skip it.
  const app = new App({ builtinCloudFormationValidation: false });
  template = Template.fromStack(new FlywheelStack(app, "Flywheel"));
});

const resourcesOfType = (type: string): Record<string, Resource> =>
  template.findResources(type) as Record<string, Resource>;

function onlyResource(type: string, props: Record<string, unknown>): [string, Resource] {
  const found = Object.entries(
    template.findResources(type, { Properties: props }) as Record<string, Resource>,
  );
  expect(found, `exactly one ${type} matching ${JSON.stringify(props)}`).toHaveLength(1);
  return found[0] as [string, Resource];
}

const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

const queueId = (name: string) =>
  onlyResource("AWS::SQS::Queue", { QueueName: Match.stringLikeRegexp(`-${name}$`) })[0];
const dataBucketId = () =>
  onlyResource("AWS::S3::Bucket", {
    LifecycleConfiguration: {
      Rules: Match.arrayWith([Match.objectLike({ Prefix: BUCKET_PREFIXES.exports })]),
    },
  })[0];

/** The function that consumes the run-uploads queue, found through its event source mapping. */
function importRunFunction(): [string, Resource] {
  const [, mapping] = onlyResource("AWS::Lambda::EventSourceMapping", {
    EventSourceArn: getAtt(queueId(QUEUES.runUploads.name)),
  });
  const functionId = (mapping.Properties.FunctionName as { Ref: string }).Ref;
  const fn = resourcesOfType("AWS::Lambda::Function")[functionId];
  if (!fn) throw new Error(`no function ${functionId}`);
  return [functionId, fn];
}

function statementsOfRole(roleArn: unknown): Statement[] {
  const roleId = (roleArn as { "Fn::GetAtt": [string, string] })["Fn::GetAtt"][0];
  return Object.values(resourcesOfType("AWS::IAM::Policy"))
    .filter((policy) =>
      (policy.Properties.Roles as unknown[]).some(
        (r) => JSON.stringify(r) === JSON.stringify({ Ref: roleId }),
      ),
    )
    .flatMap((policy) => (policy.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

/** `"<bucket ARN>/runs/*"` style resources become their key patterns (`runs/*`). */
function objectPatterns(statement: Statement, bucketId: string): string[] {
  return asArray(statement.Resource).flatMap((resource) => {
    const join = (resource as { "Fn::Join"?: [string, unknown[]] })["Fn::Join"];
    if (!join) return [];
    const [first, suffix] = join[1];
    return JSON.stringify(first) === JSON.stringify(getAtt(bucketId)) && typeof suffix === "string"
      ? [suffix.replace(/^\//, "")]
      : [];
  });
}

describe("storage", () => {
  it("declares the table's keys, indexes, billing, PITR and TTL from lib/resources", () => {
    template.hasResourceProperties("AWS::DynamoDB::Table", {
      KeySchema: [
        { AttributeName: TABLE.partitionKey, KeyType: "HASH" },
        { AttributeName: TABLE.sortKey, KeyType: "RANGE" },
      ],
      BillingMode: "PAY_PER_REQUEST",
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      DeletionProtectionEnabled: true,
      GlobalSecondaryIndexes: Object.values(TABLE.indexes).map((index) => ({
        IndexName: index.name,
        KeySchema: [
          { AttributeName: index.partitionKey, KeyType: "HASH" },
          { AttributeName: index.sortKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: "ALL" },
      })),
    });
    const attributes = Object.values(resourcesOfType("AWS::DynamoDB::Table"))[0]?.Properties
      .AttributeDefinitions as { AttributeType: string }[];
    expect(attributes.every((a) => a.AttributeType === "S")).toBe(true);
  });

  it("retains the table and the buckets when the stack goes", () => {
    template.hasResource("AWS::DynamoDB::Table", { DeletionPolicy: "Retain", UpdateReplacePolicy: "Retain" });
    for (const bucket of Object.values(resourcesOfType("AWS::S3::Bucket"))) {
      expect(bucket.DeletionPolicy).toBe("Retain");
    }
  });

  it("encrypts every bucket, blocks public access and refuses plain HTTP", () => {
    const buckets = resourcesOfType("AWS::S3::Bucket");
    // Data, access logs and the web UI's site.
    expect(Object.keys(buckets)).toHaveLength(3);
    for (const [bucketId, bucket] of Object.entries(buckets)) {
      expect(bucket.Properties).toMatchObject({
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
      });
      template.hasResourceProperties("AWS::S3::BucketPolicy", {
        Bucket: { Ref: bucketId },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({
              Effect: "Deny",
              Action: "s3:*",
              Condition: { Bool: { "aws:SecureTransport": "false" } },
            }),
          ]),
        },
      });
    }
  });

  it("expires exports, aborts stale multipart uploads and logs access to the log bucket", () => {
    const [, bucket] = onlyResource("AWS::S3::Bucket", {
      LifecycleConfiguration: Match.anyValue(),
      LoggingConfiguration: Match.anyValue(),
    });
    expect(bucket.Properties.LifecycleConfiguration).toEqual({
      Rules: expect.arrayContaining([
        expect.objectContaining({
          Prefix: BUCKET_PREFIXES.exports,
          ExpirationInDays: EXPORT_RETENTION_DAYS,
          Status: "Enabled",
        }),
        expect.objectContaining({
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          Status: "Enabled",
        }),
      ]),
    });
    const logBucketRef = (
      bucket.Properties.LoggingConfiguration as { DestinationBucketName: { Ref: string } }
    ).DestinationBucketName.Ref;
    expect(logBucketRef).not.toBe(dataBucketId());
    expect(resourcesOfType("AWS::S3::Bucket")[logBucketRef]).toBeDefined();
  });
});

describe("uploads", () => {
  it("turns created run files into messages on the run-uploads queue", () => {
    const [, notifications] = onlyResource("Custom::S3BucketNotifications", {
      BucketName: { Ref: dataBucketId() },
    });
    const { QueueConfigurations } = notifications.Properties.NotificationConfiguration as {
      QueueConfigurations: {
        Events: string[];
        Filter: { Key: { FilterRules: unknown[] } };
        QueueArn: unknown;
      }[];
    };
    expect(QueueConfigurations).toHaveLength(1);
    const [configuration] = QueueConfigurations;
    expect(configuration?.Events).toEqual(["s3:ObjectCreated:*"]);
    expect(configuration?.QueueArn).toEqual(getAtt(queueId(QUEUES.runUploads.name)));
    expect(configuration?.Filter.Key.FilterRules).toHaveLength(2);
    expect(configuration?.Filter.Key.FilterRules).toEqual(
      expect.arrayContaining([
        { Name: "prefix", Value: RUN_UPLOAD.prefix },
        { Name: "suffix", Value: RUN_UPLOAD.suffix },
      ]),
    );
  });

  it("lets only S3 notifications from the data bucket send to the run-uploads queue", () => {
    template.hasResourceProperties("AWS::SQS::QueuePolicy", {
      Queues: [{ Ref: queueId(QUEUES.runUploads.name) }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: "Allow",
            Principal: { Service: "s3.amazonaws.com" },
            Action: Match.arrayWith(["sqs:SendMessage"]),
            Condition: { ArnLike: { "aws:SourceArn": getAtt(dataBucketId()) } },
          }),
        ]),
      },
    });
  });

  it("runs the import handler with the declared timeout and the table and bucket names", () => {
    const [, fn] = importRunFunction();
    expect(fn.Properties).toMatchObject({
      Timeout: QUEUES.runUploads.handlerTimeoutSeconds,
      Environment: {
        Variables: {
          TABLE_NAME: { Ref: Object.keys(resourcesOfType("AWS::DynamoDB::Table"))[0] },
          BUCKET_NAME: { Ref: dataBucketId() },
        },
      },
    });
  });
});

describe("queues", () => {
  it("gives every queue a visibility timeout of six times its handler's timeout, as AWS advises", () => {
    for (const declaration of Object.values(QUEUES)) {
      expect(declaration.visibilityTimeoutSeconds).toBeGreaterThanOrEqual(
        6 * declaration.handlerTimeoutSeconds,
      );
    }
    const stack = new Stack(new App(), "Short");
    expect(
      () =>
        new ResilientQueue(stack, "Q", {
          declaration: {
            ...QUEUES.runUploads,
            visibilityTimeoutSeconds: QUEUES.runUploads.handlerTimeoutSeconds + 60,
          },
        }),
    ).toThrow(/under six times/);
  });

  // The queues of the capabilities the stack builds so far.
  const builtQueues = { runUploads: QUEUES.runUploads, corrections: QUEUES.corrections };

  for (const [key, declaration] of Object.entries(builtQueues)) {
    describe(key, () => {
      it("redrives to its dead-letter queue after the declared receives", () => {
        const dlqId = queueId(dlqName(declaration.name));
        template.hasResourceProperties("AWS::SQS::Queue", {
          QueueName: Match.stringLikeRegexp(`-${declaration.name}$`),
          VisibilityTimeout: declaration.visibilityTimeoutSeconds,
          SqsManagedSseEnabled: true,
          RedrivePolicy: { deadLetterTargetArn: getAtt(dlqId), maxReceiveCount: declaration.maxReceiveCount },
        });
        template.hasResourceProperties("AWS::SQS::Queue", {
          QueueName: Match.stringLikeRegexp(`-${dlqName(declaration.name)}$`),
          MessageRetentionPeriod: DLQ_RETENTION_SECONDS,
          SqsManagedSseEnabled: true,
        });
      });

      it("refuses plain HTTP on the queue and its dead-letter queue", () => {
        for (const id of [queueId(declaration.name), queueId(dlqName(declaration.name))]) {
          template.hasResourceProperties("AWS::SQS::QueuePolicy", {
            Queues: [{ Ref: id }],
            PolicyDocument: {
              Statement: Match.arrayWith([
                Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
              ]),
            },
          });
        }
      });

      it("feeds its consumer in declared batches that report partial failures", () => {
        template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
          EventSourceArn: getAtt(queueId(declaration.name)),
          BatchSize: declaration.batchSize,
          FunctionResponseTypes: ["ReportBatchItemFailures"],
        });
      });
    });
  }
});

describe("functions", () => {
  const projectFunctions = () =>
    Object.values(resourcesOfType("AWS::Lambda::Function")).filter((fn) =>
      String(fn.Properties.Runtime).startsWith("nodejs"),
    );

  it("run on nodejs22.x and arm64 with tracing, source maps and their own log group", () => {
    // API, ingest API, import, ingest queue, judge, suggest, export, and the user pool's pre-token trigger.
    expect(projectFunctions()).toHaveLength(8);
    for (const fn of projectFunctions()) {
      expect(fn.Properties).toMatchObject({
        Runtime: "nodejs22.x",
        Architectures: ["arm64"],
        Handler: "index.handler",
        TracingConfig: { Mode: "Active" },
        LoggingConfig: { LogGroup: { Ref: expect.any(String) } },
        Environment: {
          Variables: { POWERTOOLS_SERVICE_NAME: "flywheel", NODE_OPTIONS: "--enable-source-maps" },
        },
      });
    }
    template.allResourcesProperties("AWS::Logs::LogGroup", { RetentionInDays: Match.anyValue() });
  });

  describe("the import function's grants", () => {
    let statements: Statement[];
    const dataActions = (prefix: string) =>
      statements.flatMap((s) => asArray(s.Action)).filter((action) => action.startsWith(prefix));

    beforeAll(() => {
      statements = statementsOfRole(importRunFunction()[1].Properties.Role);
    });

    it("name no wildcard S3 or DynamoDB action", () => {
      const actions = [...dataActions("s3:"), ...dataActions("dynamodb:")];
      expect(actions).not.toContain("s3:*");
      expect(actions).not.toContain("dynamodb:*");
      expect(actions.filter((action) => action.includes("*"))).toEqual([]);
    });

    it("allow the table calls an import makes, on the table alone: no query, no scan", () => {
      // Candidates in conditional transactions (Put, and Update of a counter shard), its run
      // (Update), the runs prefix setting (Get) and existing candidates and counters (BatchGet).
      expect([...new Set(dataActions("dynamodb:"))].sort()).toEqual([
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
      ]);
      const tableId = Object.keys(resourcesOfType("AWS::DynamoDB::Table"))[0] as string;
      const targets = statements
        .filter((s) => asArray(s.Action).some((a) => a.startsWith("dynamodb:")))
        .flatMap((s) => asArray(s.Resource));
      expect(targets).toEqual([getAtt(tableId)]);
    });

    it("read runs/, write quarantine/ and blobs/, read back and delete only a run's quarantine parts", () => {
      const bucketId = dataBucketId();
      const runQuarantine = `${BUCKET_PREFIXES.quarantine}runs/`;
      const patternsFor = (action: string) =>
        statements
          .filter((s) => asArray(s.Action).includes(action))
          .flatMap((s) => objectPatterns(s, bucketId))
          .sort();
      expect(patternsFor("s3:GetObject")).toEqual([`${BUCKET_PREFIXES.runs}*`, `${runQuarantine}*`].sort());
      expect(patternsFor("s3:PutObject")).toEqual(
        [`${BUCKET_PREFIXES.blobs}*`, `${BUCKET_PREFIXES.quarantine}*`].sort(),
      );
      expect(patternsFor("s3:DeleteObject")).toEqual([`${runQuarantine}*`]);
      const allPatterns = new Set(statements.flatMap((s) => objectPatterns(s, bucketId)));
      expect([...allPatterns].sort()).toEqual(
        [BUCKET_PREFIXES.runs, BUCKET_PREFIXES.quarantine, BUCKET_PREFIXES.blobs, runQuarantine]
          .map((p) => `${p}*`)
          .sort(),
      );
      const listing = statements.filter((s) => asArray(s.Action).includes("s3:ListBucket"));
      expect(listing).toEqual([
        expect.objectContaining({ Condition: { StringLike: { "s3:prefix": [`${BUCKET_PREFIXES.runs}*`] } } }),
      ]);
    });

    it("delete no item and batch-write nothing", () => {
      expect(dataActions("dynamodb:")).not.toContain("dynamodb:DeleteItem");
      expect(dataActions("dynamodb:")).not.toContain("dynamodb:BatchWriteItem");
    });

    it("grant nothing on every resource but X-Ray, which has no resource-level permissions", () => {
      const onEverything = statements.filter((s) => asArray(s.Resource).includes("*"));
      expect(onEverything.flatMap((s) => asArray(s.Action)).every((a) => a.startsWith("xray:"))).toBe(true);
    });
  });
});

describe("review API", () => {
  it("routes GET /api/health to the API function through a Lambda proxy integration", () => {
    const fn = resourcesOfType("AWS::Lambda::Function")[functionIdBehind(template, API_ROUTE)];
    expect(fn?.Properties).toMatchObject({
      Runtime: "nodejs22.x",
      Environment: {
        Variables: { TABLE_NAME: { Ref: expect.any(String) }, BUCKET_NAME: { Ref: dataBucketId() } },
      },
    });
  });

  it("logs every request on its $default stage", () => {
    template.hasResourceProperties("AWS::ApiGatewayV2::Stage", {
      StageName: "$default",
      AutoDeploy: true,
      AccessLogSettings: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp("\\$context\\.requestId"),
      },
    });
  });
});

describe("outputs", () => {
  it("publish the bucket, table, queue URLs and API URL", () => {
    expect(Object.keys(template.toJSON().Outputs ?? {})).toEqual(
      expect.arrayContaining([
        "BucketName",
        "TableName",
        "RunUploadsQueueUrl",
        "RunUploadsDeadLetterQueueUrl",
        "ApiUrl",
      ]),
    );
  });
});
