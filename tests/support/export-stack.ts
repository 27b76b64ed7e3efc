import { expect, vi } from "vitest";
import { QUEUES } from "../../lib/common/resources.ts";
import { type Poller, type SqsHandler, startPoller } from "../../local/poller.ts";
import type { TestAws } from "./aws.ts";
import type { ApiHandler, HttpReply, HttpRequest } from "./http-events.ts";

export interface ExportStack {
  readonly api: ApiHandler;
  /** Feeds the exports queue to the export function; stop it in `afterAll`. */
  readonly poller: Poller;
}

/**
 * The API and the export function on the test's emulators, as `npm start` runs them: their
 * environment stubbed (the API accepting `token`, and `env` beside it), the function modules
 * imported, and the local runtime's poller feeding the exports queue to the real export handler.
 */
export async function startExportStack(
  aws: TestAws,
  token: string,
  options: { readonly env?: Record<string, string>; readonly batchSize?: number } = {},
): Promise<ExportStack> {
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", token);
  vi.stubEnv("EXPORTS_QUEUE_URL", aws.resources.queues.exports.url);
  for (const [name, value] of Object.entries(options.env ?? {})) vi.stubEnv(name, value);
  const { handler: api } = await import("../../functions/api.ts");
  const { handler: exporter } = await import("../../functions/export.ts");
  const poller = startPoller({
    sqs: aws.clients.sqs,
    queueUrl: aws.resources.queues.exports.url,
    queueArn: aws.resources.queues.exports.arn,
    region: "us-east-1",
    handler: exporter as SqsHandler,
    functionName: "export",
    timeoutSeconds: QUEUES.exports.handlerTimeoutSeconds,
    batchSize: options.batchSize ?? 1,
    waitTimeSeconds: 1,
  });
  return { api, poller };
}

/**
 * Creates an export with `POST /api/exports` and follows `GET /api/exports/{id}` until it
 * succeeded or failed (30 s at most); answers the job as the API last showed it.
 */
export async function exportThroughApi(
  call: (method: string, path: string, request?: HttpRequest) => Promise<HttpReply>,
  body: unknown,
  // biome-ignore lint/suspicious/noExplicitAny: the job is asserted field by field
): Promise<any> {
  const created = await call("POST", "/api/exports", { body });
  expect(created.status).toBe(202);
  const deadline = Date.now() + 30_000;
  for (;;) {
    const reply = await call("GET", `/api/exports/${created.body.id}`);
    expect(reply.status).toBe(200);
    if (reply.body.status === "succeeded" || reply.body.status === "failed") return reply.body;
    if (Date.now() > deadline) throw new Error(`export ${created.body.id} is still ${reply.body.status}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
