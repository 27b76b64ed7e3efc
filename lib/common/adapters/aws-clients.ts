import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBDocumentClient } from "@aws-sdk/lib-dynamodb";
import type { BaseConfig } from "../config.ts";
import { traced } from "../tracing.ts";

export interface AwsClients {
  readonly dynamodb: DynamoDBDocumentClient;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
}

type Endpoints = Pick<
  BaseConfig,
  "AWS_REGION" | "AWS_ENDPOINT_URL_DYNAMODB" | "AWS_ENDPOINT_URL_S3" | "AWS_ENDPOINT_URL_SQS"
>;

/**
 * Builds the SDK clients once. With a local endpoint, S3 uses path-style addressing and SQS
 * sends to the configured endpoint instead of the host in the queue URL (emulators hand out
 * queue URLs on hosts that do not resolve). In Lambda with tracing on, each call is an X-Ray
 * subsegment.
 */
export function createAwsClients(config: Endpoints): AwsClients {
  const region = config.AWS_REGION;
  const dynamodb = DynamoDBDocumentClient.from(
    traced(new DynamoDBClient({ region, endpoint: config.AWS_ENDPOINT_URL_DYNAMODB })),
    { marshallOptions: { removeUndefinedValues: true, convertClassInstanceToMap: false } },
  );
  const s3 = traced(
    new S3Client({
      region,
      endpoint: config.AWS_ENDPOINT_URL_S3,
      forcePathStyle: config.AWS_ENDPOINT_URL_S3 !== undefined,
    }),
  );
  const sqs = traced(
    new SQSClient({
      region,
      endpoint: config.AWS_ENDPOINT_URL_SQS,
      useQueueUrlAsEndpoint: config.AWS_ENDPOINT_URL_SQS === undefined,
    }),
  );
  return { dynamodb, s3, sqs };
}
