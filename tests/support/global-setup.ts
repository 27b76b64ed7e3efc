import "vitest";
import type { TestProject } from "vitest/node";
import {
  type RunningDynamoDb,
  type RunningFauxqs,
  startDynamoDbLocal,
  startS3SqsEmulator,
} from "../../local/emulators.ts";

declare module "vitest" {
  export interface ProvidedContext {
    dynamodbEndpoint: string;
    awsEndpoint: string;
  }
}

let dynamo: RunningDynamoDb | undefined;
let fauxqs: RunningFauxqs | undefined;

/** One pair of emulators for the whole run; every test file provisions its own uniquely named resources. */
export async function setup(project: TestProject): Promise<void> {
  [dynamo, fauxqs] = await Promise.all([startDynamoDbLocal(), startS3SqsEmulator()]);
  project.provide("dynamodbEndpoint", dynamo.endpoint);
  project.provide("awsEndpoint", fauxqs.endpoint);
}

export async function teardown(): Promise<void> {
  await Promise.all([dynamo?.stop(), fauxqs?.stop()]);
}
