import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { tracingWanted } from "../../../lib/common/tracing.ts";

const ROOT = join(import.meta.dirname, "../../..");

/** A Lambda invocation, in a process of its own: SDK calls to a closed port, then a judge span. */
const INVOCATION = `
import { GetItemCommand } from "@aws-sdk/client-dynamodb";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { createAwsClients } from "./lib/common/adapters/aws-clients.ts";
import { observedHandler } from "./lib/common/observed.ts";
import { inSpan } from "./lib/common/tracing.ts";
const endpoint = "http://127.0.0.1:9";
const clients = createAwsClients({ AWS_REGION: "us-east-1", AWS_ENDPOINT_URL_DYNAMODB: endpoint, AWS_ENDPOINT_URL_S3: endpoint, AWS_ENDPOINT_URL_SQS: endpoint });
const handler = observedHandler(async () => {
  const calls = [
    clients.dynamodb.send(new GetItemCommand({ TableName: "t", Key: { pk: { S: "k" } } })),
    clients.s3.send(new HeadObjectCommand({ Bucket: "b", Key: "k" })),
    clients.sqs.send(new SendMessageCommand({ QueueUrl: endpoint + "/1/q", MessageBody: "{}" })),
  ];
  await Promise.allSettled(calls);
  await inSpan("judge", { backend: "openai" }, async () => "verdict");
});
await handler({}, { awsRequestId: "r", functionName: "f", functionVersion: "1", invokedFunctionArn: "arn", memoryLimitInMB: "512", getRemainingTimeInMillis: () => 1000 });
`;

/** Every (sub)segment name in the documents the X-Ray SDK sent, nested ones included. */
function namesIn(documents: unknown[]): string[] {
  const names: string[] = [];
  const visit = (node: unknown) => {
    if (!node || typeof node !== "object") return;
    const { name, subsegments } = node as { name?: string; subsegments?: unknown[] };
    if (name) names.push(name);
    for (const child of subsegments ?? []) visit(child);
  };
  for (const document of documents) visit(document);
  return names;
}

describe("tracing", () => {
  it("is on inside Lambda only, and can be switched off there", () => {
    expect(tracingWanted({})).toBe(false);
    expect(tracingWanted({ AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x" })).toBe(true);
    expect(
      tracingWanted({ AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x", POWERTOOLS_TRACE_ENABLED: "false" }),
    ).toBe(false);
  });

  it("records DynamoDB, S3 and SQS calls and a judge call as subsegments of the invocation", async () => {
    const socket = createSocket("udp4");
    const documents: unknown[] = [];
    socket.on("message", (message) => {
      // A daemon datagram: a header line, then the segment document.
      const body = message.toString().split("\n").slice(1).join("\n");
      documents.push(JSON.parse(body));
    });
    await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
    const { port } = socket.address() as AddressInfo;
    try {
      await promisify(execFile)(
        process.execPath,
        ["--import", "tsx", "--input-type=module", "-e", INVOCATION],
        {
          cwd: ROOT,
          env: {
            PATH: process.env.PATH,
            AWS_ACCESS_KEY_ID: "x",
            AWS_SECRET_ACCESS_KEY: "y",
            AWS_MAX_ATTEMPTS: "1",
            AWS_EXECUTION_ENV: "AWS_Lambda_nodejs22.x",
            LAMBDA_TASK_ROOT: ROOT,
            AWS_LAMBDA_FUNCTION_NAME: "f",
            _X_AMZN_TRACE_ID: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${port}`,
            POWERTOOLS_LOG_LEVEL: "SILENT",
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
          },
        },
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
    } finally {
      socket.close();
    }
    const names = namesIn(documents);
    expect(names).toEqual(expect.arrayContaining(["## handler", "DynamoDB", "S3", "SQS", "judge"]));
  });
});
