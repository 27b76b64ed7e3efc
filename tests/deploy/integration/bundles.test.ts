import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { promisify } from "node:util";
import { HeadObjectCommand, ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { GetCommand } from "@aws-sdk/lib-dynamodb";
import type { SQSBatchResponse } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { readPartition } from "../../../lib/common/adapters/partition-reads.ts";
import { QUEUES, type QueueKey, TABLE } from "../../../lib/common/resources.ts";
import { publishCorrection } from "../../../lib/ingest/client/publish-correction.ts";
import { toSqsEvent } from "../../../local/poller.ts";
import { buildObjectCreatedEvent } from "../../../local/s3-events.ts";
import { CLEAN_RUN_ID, samplePath, sampleRunFile } from "../../../samples/index.ts";
import { type HttpRequest, httpEvent } from "../../support/http-events.ts";
import { type LocalDeployment, startLocalDeployment } from "../support/deployment.ts";
import { type ResolvedStatement, unusedActions } from "../support/iam.ts";
import { InvocationError, type RunningFunction } from "../support/lambda-process.ts";
import type { CfnTemplate, SynthesizedFunction } from "../support/synth.ts";

/**
 * What deploys is what is tested: the stack is synthesized with its esbuild bundles, and every
 * Node.js function of the template runs from its bundle in a Node process of its own with the
 * template's environment (references resolved to resources provisioned on the emulators), driven
 * by the events AWS would send it. Every AWS call a bundle makes is recorded and checked against
 * the IAM policy of its role in the template.
 */

let deployment: LocalDeployment;
const running = new Map<string, RunningFunction>();
/** The function consuming each queue, and the API's, found in the template as AWS would wire them. */
const consumers = new Map<QueueKey, SynthesizedFunction>();
let apiFunction: SynthesizedFunction;
/** The HTTP API's routes, each with the function its integration invokes. */
let routes: HttpRoute[] = [];
/** The user pool's Lambda triggers (trigger name → function). */
const triggers = new Map<string, SynthesizedFunction>();
let cfnLint: Promise<CfnLintResult> | undefined;

const runId = `deploy-${CLEAN_RUN_ID}`;
const runKey = `runs/${runId}/sft_candidates.jsonl`;
/**
 * The claims API Gateway's JWT authorizer hands on for a person in the admin group of the user
 * pool (the HTTP API flattens a list claim to `[a b]`).
 */
const reviewer = {
  sub: "0f1e2d3c-reviewer",
  email: "reviewer@example.test",
  "cognito:username": "reviewer",
  "cognito:groups": "[admin]",
};

beforeAll(async () => {
  deployment = await startLocalDeployment({
    dynamodb: inject("dynamodbEndpoint"),
    aws: inject("awsEndpoint"),
  });
  // cfn-lint takes seconds; it reads the template while the bundles run.
  cfnLint = runCfnLint(deployment.stack.templateFile);
  const { template, functions } = deployment.stack;
  for (const [queueKey, declaration] of Object.entries(QUEUES) as [QueueKey, (typeof QUEUES)[QueueKey]][]) {
    const consumer = consumerOf(template, declaration.name);
    const fn = functions.find((f) => f.logicalId === consumer);
    if (fn) consumers.set(queueKey, fn);
  }
  routes = httpRoutes(template, functions);
  // The API function: the one behind the review queue's route.
  apiFunction = routeFor("GET", "/api/sft/queue").fn;
  for (const [trigger, fn] of userPoolTriggers(template, functions)) triggers.set(trigger, fn);
  await Promise.all(functions.map(async (fn) => running.set(fn.logicalId, await deployment.start(fn))));
}, 180_000);

afterAll(async () => {
  await cfnLint?.catch(() => undefined);
  await deployment?.stop();
});

const fnOf = (fn: SynthesizedFunction) => running.get(fn.logicalId) as RunningFunction;
const consumer = (queue: QueueKey) => {
  const fn = consumers.get(queue);
  if (!fn) throw new Error(`no function consumes the ${queue} queue`);
  return fn;
};

/** Calls the API bundle as API Gateway's HTTP API would, with the JWT authorizer's claims. */
async function api(
  method: string,
  path: string,
  request: HttpRequest = {},
  options: { fn?: RunningFunction; remainingMs?: number } = {},
) {
  const route = routeFor(method, path);
  // Routes without the JWT authorizer get no claims, whatever the caller holds.
  const event = httpEvent(method, path, { ...(route.authorized ? { claims: reviewer } : {}), ...request });
  event.routeKey = route.key;
  event.requestContext.routeKey = route.key;
  const fn = options.fn ?? fnOf(route.fn);
  const result = await fn.invoke<{ statusCode: number; body?: string; headers?: Record<string, string> }>(
    event,
    { remainingMs: options.remainingMs },
  );
  const body = result.body ? JSON.parse(result.body) : undefined;
  return { status: result.statusCode, body, headers: result.headers ?? {} };
}

/**
 * Does what Lambda's event source mapping does for `queue`: receives what is waiting, invokes the
 * consuming bundle with the SQS event, and deletes every message it did not report as failed.
 * Repeats until the queue is empty, so continuations the function hands on are delivered too.
 */
async function deliver(queue: QueueKey, first: { remainingMs?: number } = {}): Promise<SQSBatchResponse[]> {
  const { sqs } = deployment.clients;
  const local = deployment.resources.queues[queue];
  const responses: SQSBatchResponse[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: local.url,
        MaxNumberOfMessages: Math.min(QUEUES[queue].batchSize, 10),
        // What a flow sends is on the queue before it is delivered, continuations included (sent
        // before the invocation returns): only the first receive waits, in case.
        WaitTimeSeconds: responses.length === 0 ? 1 : 0,
        AttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
    );
    if (Messages.length === 0) return responses;
    const event = toSqsEvent(Messages, { queueArn: local.arn, region: "us-east-1" });
    const options = responses.length === 0 ? first : {};
    const response = (await fnOf(consumer(queue)).invoke<SQSBatchResponse | null>(event, options)) ?? {
      batchItemFailures: [],
    };
    responses.push(response);
    const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    if (failed.size > 0) {
      throw new Error(`${queue}: ${[...failed].join(", ")} failed\n${fnOf(consumer(queue)).output()}`);
    }
    for (const message of Messages) {
      await sqs.send(new DeleteMessageCommand({ QueueUrl: local.url, ReceiptHandle: message.ReceiptHandle }));
    }
  }
}

/**
 * Uploads a small run under runs/<runId>/: an unparsable first line (quarantined), then four lines
 * of the clean sample run, renamed to this run.
 */
async function uploadRun(runId: string): Promise<string> {
  const sample = (await readFile(sampleRunFile(CLEAN_RUN_ID), "utf8")).split("\n").slice(0, 4);
  const body = ["{not json", ...sample.map((line) => line.replaceAll(CLEAN_RUN_ID, runId))].join("\n");
  const key = `runs/${runId}/sft_candidates.jsonl`;
  await deployment.clients.s3.send(
    new PutObjectCommand({ Bucket: deployment.resources.bucket, Key: key, Body: body }),
  );
  return key;
}

/** Puts on the run-uploads queue what the stack's bucket notification would for `key`. */
async function notifyUpload(key: string): Promise<void> {
  const { s3, sqs } = deployment.clients;
  const bucket = deployment.resources.bucket;
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  const notification = buildObjectCreatedEvent({
    bucket,
    key,
    size: head.ContentLength ?? 0,
    eTag: head.ETag ?? "",
    region: "us-east-1",
    sequencer: `0A1B2C3D4E5F${String(Date.now() % 10_000).padStart(4, "0")}`,
    configurationId: "run-uploads",
  });
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: deployment.resources.queues.runUploads.url,
      MessageBody: JSON.stringify(notification),
    }),
  );
}

/** Every object kept under quarantine/ for `runId`. */
async function quarantineKeysOf(runId: string): Promise<string[]> {
  const listed = await deployment.clients.s3.send(
    new ListObjectsV2Command({ Bucket: deployment.resources.bucket, Prefix: `quarantine/runs/${runId}/` }),
  );
  return (listed.Contents ?? []).map((o) => o.Key as string);
}

const getItem = async (pk: string, sk: string) =>
  (
    await deployment.clients.dynamodb.send(
      new GetCommand({ TableName: deployment.resources.tableName, Key: { pk, sk } }),
    )
  ).Item;

describe("the synthesized bundles, each with its template environment, against the emulators", () => {
  it("finds a bundle for every Node.js function and loads each as Lambda would", () => {
    const { functions } = deployment.stack;
    // A function no flow drives fails here: give it one in this file.
    const driven = new Set([...consumers.values(), ...routes.map((r) => r.fn), ...triggers.values()]);
    expect(functions.map((fn) => fn.entry).sort()).toEqual(
      [...new Set([...driven].map((fn) => fn.entry))].sort(),
    );
    for (const fn of functions) {
      expect(fn).toMatchObject({ handler: "index.handler", runtime: "nodejs22.x" });
      expect(fnOf(fn).initMs).toBeGreaterThan(0);
    }
  });

  it("imports a run uploaded under runs/ (S3 notification → run-uploads queue → import bundle)", async () => {
    await deployment.clients.s3.send(
      new PutObjectCommand({
        Bucket: deployment.resources.bucket,
        Key: runKey,
        Body: await readFile(sampleRunFile(CLEAN_RUN_ID)),
      }),
    );
    await notifyUpload(runKey);
    expect(await deliver("runUploads")).toEqual([{ batchItemFailures: [] }]);

    const run = await getItem(`RUN#${runId}`, "RUN");
    expect(run).toMatchObject({ state: "completed", counts: { imported: 30 } });
    const candidates = await readPartition(
      deployment.clients.dynamodb,
      deployment.resources.tableName,
      `RUN#${runId}`,
      TABLE.indexes.byRun,
    );
    expect(candidates).toHaveLength(30);
    expect(candidates.every((c) => c.status === "needs_review")).toBe(true);
  });

  it("skips every line of a run uploaded again, looking its stored ids up by key", async () => {
    const original = await readFile(sampleRunFile(CLEAN_RUN_ID), "utf8");
    // Another object (a new ETag) with the same lines: a new import of the same run.
    await deployment.clients.s3.send(
      new PutObjectCommand({
        Bucket: deployment.resources.bucket,
        Key: runKey,
        Body: `${original.trimEnd()}\n\n`,
      }),
    );
    await notifyUpload(runKey);
    expect(await deliver("runUploads")).toEqual([{ batchItemFailures: [] }]);
    expect(await getItem(`RUN#${runId}`, "RUN")).toMatchObject({
      state: "completed",
      counts: { imported: 0, skipped: 30 },
    });
  });

  it("hands an import that runs short of time on, and finishes it in the next invocation", async () => {
    const key = await uploadRun("deploy-continued");
    await notifyUpload(key);

    // The first invocation starts with its clock nearly run down, as after most of 15 minutes on
    // a big run: it reads a line, keeps its quarantine as a part and hands the rest on.
    const responses = await deliver("runUploads", { remainingMs: 5_000 });
    expect(responses).toEqual([{ batchItemFailures: [] }, { batchItemFailures: [] }]);

    const run = await getItem("RUN#deploy-continued", "RUN");
    expect(run).toMatchObject({ state: "completed", counts: { lines: 5, imported: 4, quarantined: 1 } });
    expect(await quarantineKeysOf("deploy-continued")).toHaveLength(1);
  });

  it("answers 202 to POST /api/sft/import of a run too big for the request, and the import function finishes it", async () => {
    await uploadRun("deploy-api-continued");
    const reply = await api(
      "POST",
      "/api/sft/import",
      { body: { run_id: "deploy-api-continued" } },
      { remainingMs: 5_000 },
    );
    expect(reply.status, JSON.stringify(reply.body)).toBe(202);

    expect(await deliver("runUploads")).toEqual([{ batchItemFailures: [] }]);
    const run = await getItem("RUN#deploy-api-continued", "RUN");
    expect(run).toMatchObject({ state: "completed", counts: { lines: 5, imported: 4, quarantined: 1 } });
    expect(await quarantineKeysOf("deploy-api-continued")).toHaveLength(1);
  });

  let approvedId: string;

  it("records a decision and undoes another through the API bundle, as the reviewer of the JWT", async () => {
    const runs = await api("GET", "/api/sft/runs");
    expect(runs.status).toBe(200);
    expect(runs.body.map((r: { run_id: string }) => r.run_id)).toContain(runId);
    const queue = await api("GET", "/api/sft/queue", { query: { run_id: runId, per_page: "5" } });
    expect(queue.status).toBe(200);
    expect(queue.body.items.length).toBeGreaterThanOrEqual(2);
    const [first, second] = queue.body.items as { id: string }[];
    approvedId = (first as { id: string }).id;
    const discardedId = (second as { id: string }).id;

    expect(
      await api("POST", "/api/sft/submit", {
        body: { id: approvedId, action: "correct", corrected_response: "The corrected answer." },
      }),
    ).toMatchObject({ status: 200, body: { ok: true } });
    expect(
      await api("POST", "/api/sft/submit", { body: { id: discardedId, action: "discard" } }),
    ).toMatchObject({ status: 200 });
    expect(await api("POST", "/api/sft/undo", { body: { id: discardedId } })).toMatchObject({
      status: 200,
      body: { ok: true },
    });

    expect(await getItem(`CAND#${approvedId}`, "CAND")).toMatchObject({ status: "approved" });
    expect(await getItem(`CAND#${discardedId}`, "CAND")).toMatchObject({ status: "needs_review" });
    const history = await api("GET", `/api/sft/candidates/${encodeURIComponent(discardedId)}`);
    expect(history.body.history.map((h: { action: string }) => h.action)).toEqual(["discard", "undo"]);
    const byReviewer = expect.stringMatching(new RegExp(`^(${reviewer.sub}|${reviewer.email})$`));
    expect(history.body.history.map((h: { reviewer: string }) => h.reviewer)).toEqual([
      byReviewer,
      byReviewer,
    ]);
  });

  it("ingests over HTTP with a product token read from the tokens secret", async () => {
    const [line] = (await readFile(samplePath("corrections", "valid.jsonl"), "utf8")).split("\n");
    const message = { ...JSON.parse(line as string), source: "kiwi", idempotency_key: "deploy-http-1" };
    const reply = await api("POST", "/api/sft/ingest", {
      body: message,
      claims: undefined,
      token: deployment.ingestTokens.kiwi,
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    // A client retry with the same idempotency key gets the first record, not a second one.
    const retried = await api("POST", "/api/sft/ingest", {
      body: message,
      claims: undefined,
      token: deployment.ingestTokens.kiwi,
    });
    expect(retried).toMatchObject({ status: 200, body: { id: reply.body.id } });
    const refused = await api("POST", "/api/sft/ingest", {
      body: message,
      claims: undefined,
      token: "x".repeat(20),
    });
    expect(refused.status).toBe(403);
  });

  it("ingests a correction from the corrections queue (ingest bundle)", async () => {
    const lines = (await readFile(samplePath("corrections", "valid.jsonl"), "utf8")).split("\n");
    const message = { ...JSON.parse(lines[1] as string), idempotency_key: "deploy-queue-1" };
    const [report] = await publishCorrection(
      deployment.clients.sqs,
      deployment.resources.queues.corrections.url,
      [message],
    );
    expect(report?.ok).toBe(true);

    expect(await deliver("corrections")).toEqual([{ batchItemFailures: [] }]);

    const recordId = (report as { recordId: string }).recordId;
    expect(await getItem(`CAND#${recordId}`, "CAND")).toMatchObject({ status: "approved" });

    // The same message delivered again (SQS delivers at least once): the record stays one.
    await publishCorrection(deployment.clients.sqs, deployment.resources.queues.corrections.url, [message]);
    expect(await deliver("corrections")).toEqual([{ batchItemFailures: [] }]);
    expect(await getItem(`CAND#${recordId}`, "CAND")).toMatchObject({ status: "approved" });
  });

  it("quarantines a message that can never be ingested, instead of retrying it", async () => {
    const sent = await deployment.clients.sqs.send(
      new SendMessageCommand({
        QueueUrl: deployment.resources.queues.corrections.url,
        MessageBody: "{not json",
      }),
    );
    expect(await deliver("corrections")).toEqual([{ batchItemFailures: [] }]);
    const listed = await deployment.clients.s3.send(
      new ListObjectsV2Command({ Bucket: deployment.resources.bucket, Prefix: "quarantine/ingest/" }),
    );
    expect((listed.Contents ?? []).map((o) => o.Key)).toEqual([
      expect.stringMatching(new RegExp(`^quarantine/ingest/\\d{4}-\\d{2}-\\d{2}/${sent.MessageId}\\.json$`)),
    ]);
  });

  it("reads the ingest path's and a run's quarantine through the API bundle", async () => {
    const ingest = await api("GET", "/api/sft/ingest/quarantine");
    expect(ingest.status, JSON.stringify(ingest.body)).toBe(200);
    expect(ingest.body).toMatchObject({ counted: 1, by_reason: { invalid_json: 1 } });
    expect(ingest.body.items[0].download.url).toContain("X-Amz-Signature=");
    const run = await api("GET", "/api/sft/runs/deploy-continued/quarantine");
    expect(run.status, JSON.stringify(run.body)).toBe(200);
    expect(run.body).toMatchObject({
      quarantined: 1,
      items: [{ line: expect.any(Number) }],
      next_cursor: null,
    });
  });

  it("exports the approved candidates (API → exports queue → export bundle → presigned download)", async () => {
    // An eval set registered through the API (written and indexed under evalsets/ and
    // evalset-index/), which the export bundle reads back and checks every record against.
    const item = {
      id: "deploy-1",
      question: "Name every planet of the solar system in order of their distance from the sun.",
    };
    const registered = await api("POST", "/api/evalsets/deploy-check", { body: { items: [item] } });
    expect(registered).toMatchObject({ status: 201, body: { name: "deploy-check", items: 1 } });
    const started = await api("POST", "/api/exports", { body: { format: "openai-sft" } });
    expect(started).toMatchObject({ status: 202, body: { status: "queued" } });
    const exportId = started.body.id as string;

    expect(await deliver("exports")).toEqual([{ batchItemFailures: [] }]);

    const job = await api("GET", `/api/exports/${exportId}`);
    expect(job).toMatchObject({ status: 200, body: { status: "succeeded" } });
    const listed = await deployment.clients.s3.send(
      new ListObjectsV2Command({ Bucket: deployment.resources.bucket, Prefix: `exports/${exportId}/` }),
    );
    expect((listed.Contents ?? []).map((o) => o.Key)).toContain(`exports/${exportId}/manifest.json`);
    // The link is signed by the API function: fetching it is a read with the API's role.
    const download = await fetch(job.body.download.url as string);
    expect(download.status).toBe(200);
    const lines = (await download.text())
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    // The reviewer's correction, the HTTP ingest and the queue ingest: three approved records.
    expect(lines).toHaveLength(3);
    expect(job.body.manifest.decontamination).toEqual({
      ngram: 13,
      sets: [{ name: "deploy-check", version: registered.body.version, items: 1 }],
    });
    expect(await api("DELETE", "/api/evalsets/deploy-check")).toMatchObject({
      status: 200,
      body: { deleted: 1 },
    });
    expect(lines.map((l) => l.messages.at(-1).content)).toContain("The corrected answer.");

    // Avocet's export, built within the request by the API bundle itself.
    const avocet = await api("GET", "/api/sft/export");
    expect(avocet.status).toBe(303);
    const built = await fetch(avocet.headers.location ?? avocet.headers.Location ?? "");
    expect(built.status).toBe(200);
    expect((await built.text()).trim().split("\n")).toHaveLength(3);
  });

  it("judges a session through the judge bundle against the model server the template names", async () => {
    const sessions = JSON.parse(await readFile(samplePath("sessions", "sessions.json"), "utf8")) as {
      id: string;
      feedback: { message_index: number; rating: number; comment?: string }[];
    }[];
    const { feedback, ...session } = sessions[0] as (typeof sessions)[number];
    expect((await api("POST", "/api/eval/sessions", { body: session })).status).toBe(201);
    for (const rating of feedback) {
      expect(
        (await api("POST", "/api/eval/feedback", { body: { session_id: session.id, ...rating } })).status,
      ).toBe(201);
    }
    const started = await api("POST", "/api/eval/run", {
      body: {
        scope: "session",
        session_id: session.id,
        model: "good",
        backend: "openai",
        candidates_from_dislikes: true,
      },
    });
    expect(started).toMatchObject({ status: 202, body: { total: 1 } });

    expect(await deliver("judge")).toEqual([{ batchItemFailures: [] }]);

    const run = await api("GET", `/api/eval/run/${started.body.id}`);
    expect(run.body.counts).toMatchObject({ done: 1, failed: 0 });
    // Three experts, each called with the key from the operator's secret.
    expect(deployment.judge.requests.length).toBeGreaterThanOrEqual(3);
    expect(new Set(deployment.judge.requests.map((r) => r.authorization))).toEqual(
      new Set([expect.stringMatching(/^Bearer sk-deploy-/)]),
    );
    const read = await api("GET", `/api/eval/sessions/${session.id}`);
    expect(read.body.evaluations).toHaveLength(1);
  });

  it("suggests corrections through the suggest bundle against the model server the template names, and one is accepted", async () => {
    const asked = deployment.judge.requests.length;
    const started = await api("POST", "/api/sft/suggestions", {
      body: { run_id: runId, limit: 2, suggest_model: "good", backend: "openai" },
    });
    expect(started).toMatchObject({ status: 202, body: { total: 2, state: "running" } });

    expect(await deliver("suggestions")).toEqual([{ batchItemFailures: [] }]);

    const job = await api("GET", `/api/sft/suggestions/${started.body.id}`);
    expect(job.body).toMatchObject({ state: "done", suggested: 2, failed: 0, skipped: 0 });
    expect(deployment.judge.requests.length - asked).toBe(2);
    const queue = await api("GET", "/api/sft/queue", { query: { run_id: runId, per_page: "1" } });
    const [first] = queue.body.items as { id: string; suggestion: { text: string; model: string } }[];
    expect(first?.suggestion).toMatchObject({ model: "good" });
    const accepted = await api("POST", "/api/sft/submit", {
      body: {
        id: first?.id,
        action: "correct",
        corrected_response: first?.suggestion.text,
        suggestion_id: started.body.id,
      },
    });
    expect(accepted.status).toBe(200);
    expect(await getItem(`CAND#${first?.id}`, "CAND")).toMatchObject({
      status: "approved",
      provenance: { correction_origin: "accepted", suggestion_model: "good" },
    });
  });
});

describe("the user pool's triggers", () => {
  it("puts the scopes of a person's groups on the access token (pre-token generation)", async (ctx) => {
    const trigger = triggers.get("PreTokenGenerationConfig") ?? triggers.get("PreTokenGeneration");
    if (!trigger) {
      ctx.skip("the user pool has no pre-token-generation trigger");
      return;
    }
    // A V2_0 event as Cognito sends it when a person in the reviewer group signs in.
    const event = {
      version: "2",
      triggerSource: "TokenGeneration_Authentication",
      region: "us-east-1",
      userPoolId: "us-east-1_deploy",
      userName: "reviewer",
      callerContext: { awsSdkVersion: "aws-sdk-unknown-unknown", clientId: "deploy-client" },
      request: {
        userAttributes: { sub: reviewer.sub, email: reviewer.email },
        groupConfiguration: { groupsToOverride: ["reviewer"], iamRolesToOverride: [], preferredRole: null },
        scopes: ["openid", "email"],
      },
      response: { claimsAndScopeOverrideDetails: null },
    };
    const result = await fnOf(trigger).invoke<{ response: unknown }>(event);
    const generation = (
      result.response as {
        claimsAndScopeOverrideDetails?: { accessTokenGeneration?: { scopesToAdd?: string[] } };
      }
    ).claimsAndScopeOverrideDetails?.accessTokenGeneration;
    expect(generation?.scopesToAdd).toContain("flywheel/review");
    expect(generation?.scopesToAdd).not.toContain("flywheel/admin");
  });
});

describe("permissions as the template grants them", () => {
  it("allows every AWS call each bundle made, action and resource, by its role's policy", () => {
    const denied: Record<string, string[]> = {};
    for (const fn of deployment.stack.functions) {
      const made = deployment.calls.filter((call) => call.principal === deployment.principalOf(fn));
      // A function granted data access made calls through the recording proxies (or recording failed).
      const grantsData = deployment
        .statementsOf(fn)
        .some((st) => st.actions.some((a) => !a.startsWith("xray:") && !a.startsWith("logs:")));
      if (grantsData) expect(made.length, `${fn.entry} made no AWS call`).toBeGreaterThan(0);
      const calls = deployment.deniedCallsOf(fn);
      if (calls.length > 0) denied[fn.logicalId] = calls;
    }
    expect(denied, "calls the function's role does not allow").toEqual({});
  });

  it("grants no action the flows leave unused, but those acknowledged with a reason", () => {
    expect(unexplainedGrants(), "grants no call of the flows used, and no acknowledgement explains").toEqual(
      {},
    );
  });

  it("fails a grant added to a role that no call uses", () => {
    const ingest = consumer("corrections");
    const copy = structuredClone(deployment.stack.template);
    const tableId = Object.keys(copy.Resources).find(
      (id) => copy.Resources[id]?.Type === "AWS::DynamoDB::Table",
    );
    const policy = Object.values(copy.Resources).find(
      (r) =>
        r.Type === "AWS::IAM::Policy" && JSON.stringify(r.Properties?.Roles).includes(`"${ingest.roleId}"`),
    );
    const document = policy?.Properties?.PolicyDocument as { Statement: unknown[] } | undefined;
    if (!document) throw new Error("the ingest function's policy is not in the template");
    document.Statement.push({
      Effect: "Allow",
      Action: "dynamodb:DeleteItem",
      Resource: { "Fn::GetAtt": [tableId, "Arn"] },
    });
    expect(unexplainedGrants()[ingest.entry] ?? []).not.toContain("dynamodb:DeleteItem on table");
    expect(unexplainedGrants(copy)[ingest.entry]).toContain("dynamodb:DeleteItem on table");
  });

  it("fails a call once the grant it used is removed from the role", () => {
    for (const fn of deployment.stack.functions) {
      const made = deployment.calls.filter((call) => call.principal === deployment.principalOf(fn));
      const call = made[0];
      if (!call) continue;
      const copy = withoutGrant(deployment.stack.template, fn, call.action);
      expect(deployment.deniedCallsOf(fn, copy).join("\n")).toContain(`${call.action} on ${call.resource}`);
    }
  });

  it("fails a function whose Handler names no export of its bundle, or a file it does not have", async () => {
    const ingest = consumer("corrections");
    for (const [handler, errorType] of [
      ["index.main", "Runtime.HandlerNotFound"],
      ["handler.handler", "Runtime.ImportModuleError"],
    ] as const) {
      const failed = await deployment.start({ ...ingest, handler }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failed).toBeInstanceOf(InvocationError);
      expect((failed as InvocationError).error.errorType).toBe(errorType);
    }
  });

  it("fails a bundle whose environment variable the template names differently", async () => {
    const ingest = consumer("corrections");
    const copy = withRenamedVariable(deployment.stack.template, ingest, "TABLE_NAME", "TABLE");
    const failed = await deployment.start(ingest, copy).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(failed).toBeInstanceOf(InvocationError);
    expect((failed as InvocationError).message).toMatch(/TABLE_NAME/);

    // An optional variable renamed: the bundle loads, and the flow that needs it fails.
    const renamed = withRenamedVariable(
      deployment.stack.template,
      apiFunction,
      "EXPORTS_QUEUE_URL",
      "EXPORT_QUEUE",
    );
    const apiCopy = await deployment.start(apiFunction, renamed);
    const reply = await api("POST", "/api/exports", { body: { format: "openai-sft" } }, { fn: apiCopy });
    expect(reply.status).toBe(503);
    await apiCopy.stop();
  });
});

describe("the template itself", () => {
  it("passes cfn-lint with no error and no warning left unacknowledged", async (ctx) => {
    const result = await (cfnLint as Promise<CfnLintResult>);
    if (result.kind === "absent") {
      ctx.skip(
        `cfn-lint is not installed (${result.reason}); install it (pip install cfn-lint) to lint the template`,
      );
      return;
    }
    if (result.kind === "failed") throw new Error(`cfn-lint did not run to the end: ${result.output}`);
    // An error is never acknowledged.
    const unacknowledged = result.findings.filter(
      (f) => f.Level === "Error" || !(f.Rule.Id in CFN_LINT_ACKNOWLEDGED),
    );
    expect(
      unacknowledged.map((f) => `${f.Level} ${f.Rule.Id} ${f.Location.Path.join("/")}: ${f.Message}`),
    ).toEqual([]);
  });
});

/** By function: the grants of its role in `template` no call used and no acknowledgement explains. */
function unexplainedGrants(template = deployment.stack.template): Record<string, string[]> {
  const consumed = new Map(
    [...consumers].map(([queue, fn]) => [fn.logicalId, deployment.resources.queues[queue].arn]),
  );
  const unexplained: Record<string, string[]> = {};
  for (const fn of deployment.stack.functions) {
    const made = deployment.calls.filter((call) => call.principal === deployment.principalOf(fn));
    for (const { action, statement } of unusedActions(deployment.statementsOf(fn, template), made)) {
      if (usedBeyondTheCode(action, statement, consumed.get(fn.logicalId))) continue;
      const grant = `${action} on ${statement.resources.map(shortName).join(", ")}`;
      // An acknowledgement names the grant's action and its first resources: it still holds when
      // the statement's other resources are narrowed away.
      const acknowledged = [
        ...Object.keys(UNUSED_BUT_NEEDED[fn.entry] ?? {}),
        ...(TOO_WIDE_TODAY[fn.entry] ?? []),
      ];
      if (acknowledged.some((known) => grant.startsWith(known))) continue;
      unexplained[fn.entry] = [...(unexplained[fn.entry] ?? []), grant];
    }
  }
  return unexplained;
}

/**
 * Grants a role needs that no call of the function's code makes: the Lambda service, or the
 * grant helpers that bundle an action with the one the code uses, make or need them.
 */
function usedBeyondTheCode(action: string, statement: ResolvedStatement, consumedQueueArn?: string): boolean {
  // Active tracing: the Lambda service sends the function's trace segments (no resource-level permission).
  if (action.startsWith("xray:")) return true;
  // AWSLambdaBasicExecutionRole: the runtime writes the function's logs.
  if (action.startsWith("logs:")) return true;
  // The SQS event source mapping polls and deletes with the function's role.
  if (
    consumedQueueArn !== undefined &&
    statement.resources.includes(consumedQueueArn) &&
    [
      "sqs:ReceiveMessage",
      "sqs:ChangeMessageVisibility",
      "sqs:GetQueueUrl",
      "sqs:DeleteMessage",
      "sqs:GetQueueAttributes",
    ].includes(action)
  ) {
    return true;
  }
  const alongside = (used: string) => statement.actions.includes(used);
  // CDK's grantSendMessages grants these with SendMessage; the senders use the queue URL they are given.
  if (["sqs:GetQueueAttributes", "sqs:GetQueueUrl"].includes(action) && alongside("sqs:SendMessage"))
    return true;
  // CDK's grantRead on a secret grants DescribeSecret with GetSecretValue.
  if (action === "secretsmanager:DescribeSecret" && alongside("secretsmanager:GetSecretValue")) return true;
  // bindBucket grants it with every write: an upload that fails is aborted, which the flows never see.
  if (action === "s3:AbortMultipartUpload" && alongside("s3:PutObject")) return true;
  return false;
}

/** A resource ARN without the local names: `table`, `table/index/*`, `blobs/*`, `bucket`, `queue run-uploads`. */
function shortName(arn: string): string {
  const { tableName, bucket, queues } = deployment.resources;
  const queue = Object.values(queues).find((q) => q.arn === arn);
  if (queue) return `queue ${queue.name.replace(/^deploy-[0-9a-f]+-/, "")}`;
  return arn
    .replace(`arn:aws:dynamodb:us-east-1:000000000000:table/${tableName}`, "table")
    .replace(`arn:aws:s3:::${bucket}/`, "")
    .replace(`arn:aws:s3:::${bucket}`, "bucket")
    .replace(/^arn:aws:secretsmanager:[^:]+:[^:]+:secret:/, "secret ");
}

/**
 * By function: grants of its role the flows do not use, each with the path of its code that needs
 * it. A grant is named by its action and its statement's resources, without local names.
 */
const UNUSED_BUT_NEEDED: Record<string, Record<string, string>> = {
  "functions/import-run.ts": {
    "dynamodb:GetItem on table":
      "reads the runs prefix set with POST /api/sft/config when an upload's key is outside runs/<run_id>/",
    "s3:ListBucket on bucket": "makes a run file deleted before its import read as 404 (NoSuchKey), not 403",
    "s3:PutObject on quarantine/*, blobs/*": "blobs/: a candidate body too big for its item (over 300 KB)",
  },
  "functions/api.ts": {
    "s3:GetObject on datasets/*":
      "signs the download links of a dataset version's files (a presigned GET carries this role's rights)",
    "s3:PutObject on datasets/*": "POST /api/datasets copies an export's files into datasets/<name>/v<n>/",
    "s3:ListBucket on bucket": "makes a missing dataset or eval-set object read as 404 (NoSuchKey), not 403",
  },
  "functions/ingest-api.ts": {
    "s3:PutObject on blobs/*": "keeps the texts of a correction too big for an item under blobs/",
  },
  "functions/ingest-corrections.ts": {},
  "functions/judge.ts": {
    "s3:GetObject on blobs/*":
      "reads a session's messages kept under blobs/ when they are too big for an item",
    "s3:PutObject on blobs/*":
      "writes the body of a candidate made from a dislike when it is too big for an item",
    "s3:ListBucket on bucket": "makes a missing blob read as 404 (NoSuchKey), not 403",
    "bedrock:InvokeModel on arn:aws:bedrock:*::foundation-model/*":
      "the Bedrock backend (a run with backend: bedrock); the flows judge with the OpenAI-compatible one",
  },
  "functions/export.ts": {
    "s3:GetObject on blobs/*": "reads the bodies of candidates too big for an item back from blobs/",
    "s3:GetObject on exports/*/checkpoints/*":
      "an export continued in a new invocation reads back its checkpoint's state (the flows finish in one)",
    "s3:DeleteObject on exports/*/checkpoints/*": "removes a finished export's checkpoint state",
    "sqs:SendMessage on queue exports": "hands the rest of an export short of time on to its own queue",
  },
  "functions/suggest.ts": {
    "s3:GetObject on blobs/*": "reads the prompt and answer of a candidate too big for its item from blobs/",
    "s3:ListBucket on bucket": "makes a missing body read as 404 (NoSuchKey), not 403",
    "bedrock:InvokeModel on arn:aws:bedrock:*::foundation-model/*":
      "the Bedrock backend (a job with backend: bedrock); the flow suggests with the OpenAI-compatible one",
  },
};

/**
 * Grants this check found wider than any code of the bundle needs and that are not narrowed yet,
 * by function, named like the grants above. Each entry is a defect to remove from the role, then
 * from this list.
 */
const TOO_WIDE_TODAY: Record<string, string[]> = {};

/**
 * cfn-lint rules whose findings are accepted, each with the reason. Errors are never acknowledged.
 */
const CFN_LINT_ACKNOWLEDGED: Record<string, string> = {
  W3005:
    "CDK makes each function depend on its role and the role's default policy, and the bucket notifications on the queue's policy, so the permissions exist before the resource uses them; the dependency on the role is also implied by the GetAtt of its ARN, which is all cfn-lint reports: redundant, not wrong.",
};

interface CfnLintFinding {
  Level: string;
  Message: string;
  Rule: { Id: string };
  Location: { Path: (string | number)[] };
}
type CfnLintResult =
  | { kind: "absent"; reason: string }
  | { kind: "failed"; output: string }
  | { kind: "ran"; findings: CfnLintFinding[] };

/**
 * Runs cfn-lint on the template. Its exit code is a bit set of what it found (2 errors, 4
 * warnings, 8 informational), with the findings on stdout; anything else (1, or no JSON) is a
 * failed run, never a clean one. Absent when the command cannot be started at all.
 */
async function runCfnLint(templateFile: string): Promise<CfnLintResult> {
  const run = await promisify(execFile)("cfn-lint", ["--format", "json", "--", templateFile], {
    maxBuffer: 16 * 1024 * 1024,
  }).then(
    ({ stdout }) => ({ code: 0, stdout, stderr: "" }),
    (error: { code?: unknown; stdout?: string; stderr?: string; message?: string }) => ({
      code: error.code,
      stdout: error.stdout ?? "",
      stderr: error.stderr || error.message || "",
    }),
  );
  if (typeof run.code !== "number")
    return { kind: "absent", reason: String(run.stderr).split("\n")[0] ?? "" };
  if ((run.code & ~0b1110) !== 0) return { kind: "failed", output: `exit ${run.code}: ${run.stderr}` };
  try {
    return { kind: "ran", findings: JSON.parse(run.stdout) as CfnLintFinding[] };
  } catch {
    return { kind: "failed", output: `exit ${run.code}, no JSON on stdout: ${run.stdout}${run.stderr}` };
  }
}

/** The logical id of the function an event source mapping feeds from the queue named `*-<name>`. */
function consumerOf(template: CfnTemplate, queueName: string): string | undefined {
  const queueId = Object.entries(template.Resources).find(
    ([, r]) => r.Type === "AWS::SQS::Queue" && String(r.Properties?.QueueName).endsWith(`-${queueName}`),
  )?.[0];
  const mapping = Object.values(template.Resources).find(
    (r) =>
      r.Type === "AWS::Lambda::EventSourceMapping" &&
      JSON.stringify(r.Properties?.EventSourceArn) === JSON.stringify({ "Fn::GetAtt": [queueId, "Arn"] }),
  );
  return (mapping?.Properties?.FunctionName as { Ref?: string } | undefined)?.Ref;
}

interface HttpRoute {
  /** `METHOD /path` as the HTTP API names it (`ANY /api/{proxy+}`). */
  readonly key: string;
  readonly fn: SynthesizedFunction;
  /** Whether the route has an authorizer (the function then gets its claims). */
  readonly authorized: boolean;
}

/** The HTTP API's routes and the function behind each one's Lambda integration. */
function httpRoutes(template: CfnTemplate, functions: readonly SynthesizedFunction[]): HttpRoute[] {
  const found: HttpRoute[] = [];
  for (const route of Object.values(template.Resources)) {
    if (route.Type !== "AWS::ApiGatewayV2::Route") continue;
    const integrationId = /"Ref":"([^"]+)"/.exec(JSON.stringify(route.Properties?.Target))?.[1] ?? "";
    const uri = template.Resources[integrationId]?.Properties?.IntegrationUri as
      | { "Fn::GetAtt"?: [string, string] }
      | undefined;
    const fn = functions.find((f) => f.logicalId === uri?.["Fn::GetAtt"]?.[0]);
    if (!fn) continue;
    found.push({
      key: String(route.Properties?.RouteKey),
      fn,
      authorized: (route.Properties?.AuthorizationType ?? "NONE") !== "NONE",
    });
  }
  return found;
}

/** The route API Gateway picks for a request: the most specific path, then its own method over ANY. */
function routeFor(method: string, path: string): HttpRoute {
  const matching = routes.filter((route) => {
    const [routeMethod = "", routePath = ""] = route.key.split(" ");
    const pattern = routePath
      .split("/")
      .map((part) => (part.endsWith("+}") ? ".+" : part.startsWith("{") ? "[^/]+" : part))
      .join("/");
    return (routeMethod === method || routeMethod === "ANY") && new RegExp(`^${pattern}$`).test(path);
  });
  const rank = (route: HttpRoute) =>
    (route.key.includes("+}") ? 100 : 0) +
    (route.key.match(/\{/g) ?? []).length * 10 +
    (route.key.startsWith("ANY ") ? 1 : 0);
  const [best] = matching.sort((a, b) => rank(a) - rank(b));
  if (!best) throw new Error(`no route of the HTTP API for ${method} ${path}`);
  return best;
}

/** The user pool's Lambda triggers: trigger name (`PreTokenGenerationConfig`) → function. */
function userPoolTriggers(template: CfnTemplate, functions: readonly SynthesizedFunction[]) {
  const found = new Map<string, SynthesizedFunction>();
  for (const pool of Object.values(template.Resources)) {
    if (pool.Type !== "AWS::Cognito::UserPool") continue;
    for (const [trigger, config] of Object.entries(
      (pool.Properties?.LambdaConfig ?? {}) as Record<string, unknown>,
    )) {
      const id = /"Fn::GetAtt":\["([^"]+)","Arn"\]/.exec(JSON.stringify(config))?.[1];
      const fn = functions.find((f) => f.logicalId === id);
      if (fn) found.set(trigger, fn);
    }
  }
  return found;
}

/** A copy of `template` whose role for `fn` no longer grants `action` (in any of its statements). */
function withoutGrant(template: CfnTemplate, fn: SynthesizedFunction, action: string): CfnTemplate {
  const copy = structuredClone(template);
  for (const resource of Object.values(copy.Resources)) {
    if (resource.Type !== "AWS::IAM::Policy") continue;
    if (!JSON.stringify(resource.Properties?.Roles).includes(`"${fn.roleId}"`)) continue;
    const document = resource.Properties?.PolicyDocument as { Statement: { Action: string | string[] }[] };
    for (const statement of document.Statement) {
      const actions = ([] as string[]).concat(statement.Action).filter((a) => a !== action);
      statement.Action = actions.length > 0 ? actions : "none:None";
    }
  }
  return copy;
}

/** A copy of `template` in which `fn`'s environment variable `from` is called `to`. */
function withRenamedVariable(
  template: CfnTemplate,
  fn: SynthesizedFunction,
  from: string,
  to: string,
): CfnTemplate {
  const copy = structuredClone(template);
  const environment = copy.Resources[fn.logicalId]?.Properties?.Environment as
    | { Variables: Record<string, unknown> }
    | undefined;
  const variables = environment?.Variables ?? {};
  if (!(from in variables)) throw new Error(`${fn.logicalId} has no ${from}`);
  variables[to] = variables[from];
  delete variables[from];
  return copy;
}
