import { BatchGetCommand } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { keys } from "../../../lib/common/adapters/table-keys.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { callApi, type HttpRequest } from "../../support/http-events.ts";
import {
  candidateLines,
  recount,
  reviewStateCountersStored,
  uploadRun,
} from "../../support/review-fixtures.ts";
import { storedCandidate } from "../../support/steps.ts";

const TOKEN = "concurrency-test-token";

let aws: TestAws;
let handler: (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
const api = (method: string, path: string, request: HttpRequest = {}) =>
  callApi(handler, lambdaContext("api"), method, path, { token: TOKEN, ...request });
const idOf = (runId: string, n: number) => `${runId}-${String(n).padStart(5, "0")}`;

async function seed(runId: string, count: number) {
  await uploadRun(aws, runId, candidateLines(runId, count));
  expect((await api("POST", "/api/sft/import", { body: { run_id: runId } })).body).toEqual({
    imported: count,
    skipped: 0,
  });
  return Array.from({ length: count }, (_, n) => idOf(runId, n));
}

const stored = (id: string) => storedCandidate(aws, id);

/** The stored candidates of `ids`, 100 per BatchGetItem, by id. */
async function storedMany(ids: readonly string[]) {
  const found = new Map<string, Record<string, unknown>>();
  for (let offset = 0; offset < ids.length; offset += 100) {
    let requestKeys: Record<string, unknown>[] = ids
      .slice(offset, offset + 100)
      .map((id) => keys.candidate(id));
    while (requestKeys.length > 0) {
      const result = await aws.clients.dynamodb.send(
        new BatchGetCommand({
          RequestItems: { [aws.resources.tableName]: { Keys: requestKeys, ConsistentRead: true } },
        }),
      );
      for (const item of result.Responses?.[aws.resources.tableName] ?? []) found.set(item.id, item);
      requestKeys =
        (result.UnprocessedKeys?.[aws.resources.tableName]?.Keys as Record<string, unknown>[]) ?? [];
    }
  }
  return found;
}

const DECISIONS = [
  { action: "correct", corrected_response: "a better answer", failure_category: "wrong_answer" },
  { action: "discard", failure_category: "scoring_artifact" },
  { action: "flag", failure_category: "hallucination" },
  { action: "flag" },
] as const;
const TARGET = { correct: "approved", discard: "discarded", flag: "model_rejected" } as const;

beforeAll(async () => {
  aws = await provisionTestAws("race");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  vi.stubEnv("REVIEWER_TOKEN", TOKEN);
  ({ handler } = await import("../../../functions/api.ts"));
});

describe("concurrent reviewers", () => {
  it("let exactly one of 50 simultaneous submits on one candidate win; the other 49 get 409", async () => {
    const [id] = await seed("race", 1);

    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        api("POST", "/api/sft/submit", { body: { id, ...DECISIONS[i % DECISIONS.length] } }),
      ),
    );

    const statuses = replies.map((reply) => reply.status);
    expect(statuses.filter((status) => status === 200)).toHaveLength(1);
    expect(statuses.filter((status) => status === 409)).toHaveLength(49);
    const winner = replies.findIndex((reply) => reply.status === 200);
    const decision = DECISIONS[winner % DECISIONS.length] as (typeof DECISIONS)[number];
    expect(await stored(id as string)).toMatchObject({ status: TARGET[decision.action], version: 2 });
    for (const reply of replies.filter((r) => r.status === 409)) {
      expect(reply.body.detail).toContain(TARGET[decision.action]);
    }
    const detail = await api("GET", `/api/sft/candidates/${id}`);
    expect(detail.body.history).toHaveLength(1);
    expect(await reviewStateCountersStored(aws)).toEqual(await recount(aws));
  });

  it("persist all 400 decisions of 8 clients × 50 on distinct candidates", async () => {
    const ids = await seed("clients", 400);
    const before = (await api("GET", "/api/sft/stats")).body;

    const clients = Array.from({ length: 8 }, async (_, client) => {
      const statuses: number[] = [];
      for (let n = 0; n < 50; n++) {
        const i = client * 50 + n;
        const reply = await api("POST", "/api/sft/submit", {
          body: { id: ids[i], ...DECISIONS[i % DECISIONS.length] },
        });
        statuses.push(reply.status);
      }
      return statuses;
    });
    const statuses = (await Promise.all(clients)).flat();

    expect(statuses).toEqual(Array(400).fill(200));
    const items = await storedMany(ids);
    ids.forEach((id, i) => {
      const item = items.get(id);
      const decision = DECISIONS[i % DECISIONS.length] as (typeof DECISIONS)[number];
      expect(item).toMatchObject({
        status: TARGET[decision.action],
        version: 2,
        failure_category: "failure_category" in decision ? decision.failure_category : null,
      });
    });
    const after = (await api("GET", "/api/sft/stats")).body;
    expect(after.by_status).toEqual({
      needs_review: before.by_status.needs_review - 400,
      approved: before.by_status.approved + 100,
      discarded: before.by_status.discarded + 100,
      model_rejected: before.by_status.model_rejected + 200,
    });
    expect(after.export_ready).toBe(before.export_ready + 100);
    expect(await reviewStateCountersStored(aws)).toEqual(await recount(aws));
  });

  it("keep the counters equal to a recount after a storm of mixed decisions and undos", async () => {
    const ids = await seed("storm", 30);
    let seed32 = 7;
    const random = (n: number) => {
      seed32 = (seed32 * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed32 % n;
    };
    const plan = Array.from({ length: 8 }, () =>
      Array.from({ length: 25 }, () => ({ id: ids[random(ids.length)] as string, op: random(5) })),
    );

    const outcomes = await Promise.all(
      plan.map(async (ops) => {
        const seen: number[] = [];
        for (const { id, op } of ops) {
          const reply =
            op === 4
              ? await api("POST", "/api/sft/undo", { body: { id } })
              : await api("POST", "/api/sft/submit", { body: { id, ...DECISIONS[op] } });
          seen.push(reply.status);
        }
        return seen;
      }),
    );

    const statuses = outcomes.flat();
    expect(statuses.every((status) => status === 200 || status === 409)).toBe(true);
    expect(statuses.filter((status) => status === 200).length).toBeGreaterThan(30);
    expect(await reviewStateCountersStored(aws)).toEqual(await recount(aws));
    // Every successful change left exactly one event, and versions count the changes.
    const histories = await Promise.all(ids.map((id) => api("GET", `/api/sft/candidates/${id}`)));
    const events = histories.reduce((sum, reply) => sum + reply.body.history.length, 0);
    expect(events).toBe(statuses.filter((status) => status === 200).length);
    for (const reply of histories) {
      expect(reply.body.candidate.version).toBe(reply.body.history.length + 1);
    }
  });
});
