import { type AwsClients, createAwsClients } from "../lib/common/adapters/aws-clients.ts";
import { startDynamoDbLocal, startS3SqsEmulator } from "../local/emulators.ts";
import { type Provisioned, provision } from "../local/provision.ts";

export interface BenchEnvironment {
  readonly clients: AwsClients;
  readonly tableName: string;
  readonly bucket: string;
  readonly resources: Provisioned;
  /** What a handler process needs in its environment to reach these resources. */
  readonly handlerEnv: Record<string, string>;
  stop(): Promise<void>;
}

/** Fresh emulators and resources for one benchmark run (DynamoDB Local in memory). */
export async function startBenchEnvironment(): Promise<BenchEnvironment> {
  process.env.AWS_ACCESS_KEY_ID ??= "local";
  process.env.AWS_SECRET_ACCESS_KEY ??= "local";
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  // Handlers run in this process share one logger, made when the first of them is imported.
  process.env.POWERTOOLS_LOG_LEVEL = "SILENT";
  const [dynamo, aws] = await Promise.all([startDynamoDbLocal(), startS3SqsEmulator()]);
  const endpoints = {
    AWS_REGION: "us-east-1",
    AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    AWS_ENDPOINT_URL_S3: aws.endpoint,
    AWS_ENDPOINT_URL_SQS: aws.endpoint,
  };
  const clients = createAwsClients(endpoints);
  const resources = await provision(clients, {
    tableName: "flywheel-bench",
    bucket: "flywheel-bench",
    queuePrefix: "bench-",
  });
  return {
    clients,
    tableName: resources.tableName,
    bucket: resources.bucket,
    resources,
    handlerEnv: {
      ...endpoints,
      TABLE_NAME: resources.tableName,
      BUCKET_NAME: resources.bucket,
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    },
    stop: async () => {
      await Promise.all([dynamo.stop(), aws.stop()]);
    },
  };
}
