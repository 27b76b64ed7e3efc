import { type DynamoDBDocumentClient, GetCommand } from "@aws-sdk/lib-dynamodb";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from "aws-lambda";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { CandidateViews } from "../../../lib/common/adapters/candidate-view.ts";
import { keys } from "../../../lib/common/adapters/table-keys.ts";
import { LeaseTable } from "../../../lib/review/adapters/lease-table.ts";
import { QueueTable } from "../../../lib/review/adapters/queue-table.ts";
import { ReviewTable } from "../../../lib/review/adapters/review-table.ts";
import { CLAIM_BATCH, NextRequest, planLease } from "../../../lib/review/domain/lease.ts";
import { nextCandidate } from "../../../lib/review/usecases/leases.ts";
import { provisionTestAws, type TestAws } from "../../support/aws.ts";
import { lambdaContext } from "../../support/events.ts";
import { callApi, type HttpRequest } from "../../support/http-events.ts";
import {
  candidateLines,
  leasedCandidates,
  recount,
  reviewStateCountersStored,
  uploadRun,
} from "../../support/review-fixtures.ts";

/**
 * Leases against DynamoDB Local, through the API function behind the JWT authorizer (each
 * reviewer their own `sub`), and through the use case where a test needs its own clock or a
 * count of what a call reads.
 */

let aws: TestAws;
let handler: (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;
const context = lambdaContext("api");
const START = Date.UTC(2026, 1, 1);

const reviewer = (n: number) => ({
  sub: `sub-reviewer-${n}`,
  email: `reviewer${n}@example.com`,
  "cognito:groups": "[reviewer]",
});
const as =
  (n: number) =>
  (method: string, path: string, request: HttpRequest = {}) =>
    callApi(handler, context, method, path, { claims: reviewer(n), ...request });
const ana = as(1);
const bo = as(2);
const idOf = (runId: string, n: number) => `${runId}-${String(n).padStart(5, "0")}`;

async function seed(runId: string, count: number, start = START) {
  await uploadRun(aws, runId, candidateLines(runId, count, start));
  const imported = await ana("POST", "/api/sft/import", { body: { run_id: runId } });
  expect(imported).toEqual({ status: 200, body: { imported: count, skipped: 0 } });
}

const storedItem = async (id: string) =>
  (
    await aws.clients.dynamodb.send(
      new GetCommand({ TableName: aws.resources.tableName, Key: keys.candidate(id), ConsistentRead: true }),
    )
  ).Item;

/** The review slice's adapters on `dynamodb` (a spy, when a test counts reads). */
function adapters(dynamodb: DynamoDBDocumentClient = aws.clients.dynamodb) {
  const views = new CandidateViews({
    getCandidateBody: () => Promise.reject(new Error("no offloaded bodies here")),
  });
  const queue = new QueueTable(dynamodb, aws.resources.tableName, views);
  const review = new ReviewTable(dynamodb, aws.resources.tableName, views);
  return { queue, leases: new LeaseTable(dynamodb, aws.resources.tableName, views, queue, review) };
}

beforeAll(async () => {
  aws = await provisionTestAws("leases");
  for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
  // No dev token: the function reads the reviewer from the JWT claims, as behind API Gateway.
  vi.stubEnv("REVIEWER_TOKEN", "");
  ({ handler } = await import("../../../functions/api.ts"));
});

describe("POST /api/sft/next with concurrent reviewers", () => {
  it("hands 8 reviewers taking 50 each 400 distinct candidates from the head of the queue, with no 409 on submit", async () => {
    const RUN = "2026-02-01-race";
    await seed(RUN, 430);
    const taken: string[][] = Array.from({ length: 8 }, () => []);
    const failures: unknown[] = [];

    await Promise.all(
      taken.map(async (mine, r) => {
        const call = as(10 + r);
        for (let i = 0; i < 50; i++) {
          const next = await call("POST", "/api/sft/next", { body: { run_id: RUN } });
          if (next.status !== 200 || !next.body.candidate) {
            failures.push(next);
            continue;
          }
          expect(next.body.lease.holder).toBe(`sub-reviewer-${10 + r}`);
          mine.push(next.body.candidate.id);
          const decided = await call("POST", "/api/sft/submit", {
            body: { id: next.body.candidate.id, action: "discard", failure_category: "scoring_artifact" },
          });
          if (decided.status !== 200) failures.push(decided);
        }
      }),
    );

    expect(failures).toEqual([]);
    const all = taken.flat();
    expect(all).toHaveLength(400);
    expect(new Set(all).size).toBe(400);
    // Each next took one of the oldest few free candidates: nothing much younger was taken.
    expect(all.filter((id) => id >= idOf(RUN, 400 + CLAIM_BATCH))).toEqual([]);
    expect(await leasedCandidates(aws)).toEqual([]);
    expect(await reviewStateCountersStored(aws)).toEqual(await recount(aws));
  }, 300_000);
});

describe("a leased candidate", () => {
  const RUN = "2026-02-02-held";

  beforeAll(async () => {
    await seed(RUN, 4, START + 86_400_000);
  });

  it("is held for its holder: another reviewer's decision is a 409 naming the holder, the holder's goes through", async () => {
    const next = await ana("POST", "/api/sft/next", { body: { run_id: RUN, lease_seconds: 120 } });
    expect(next.status).toBe(200);
    const id = next.body.candidate.id;
    expect(id).toBe(idOf(RUN, 0));
    expect(next.body.lease).toEqual({
      holder: "sub-reviewer-1",
      holder_name: "reviewer1@example.com",
      expires_at: expect.any(String),
    });
    const seconds = (Date.parse(next.body.lease.expires_at) - Date.now()) / 1000;
    expect(seconds).toBeGreaterThan(100);
    expect(seconds).toBeLessThanOrEqual(120);

    const refused = await bo("POST", "/api/sft/submit", { body: { id, action: "flag" } });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toBe(
      `Candidate ${id} is leased to reviewer1@example.com (sub-reviewer-1) until ${next.body.lease.expires_at} (current status: needs_review)`,
    );
    expect(await storedItem(id)).toMatchObject({ status: "needs_review", version: 1 });

    const decided = await ana("POST", "/api/sft/submit", {
      body: { id, action: "correct", corrected_response: "fixed", failure_category: "wrong_answer" },
    });
    expect(decided).toEqual({ status: 200, body: { ok: true } });
    const item = await storedItem(id);
    expect(item).toMatchObject({
      status: "approved",
      version: 2,
      gsi1pk: expect.stringMatching(/^STATUS#approved#/),
    });
    expect(item).not.toHaveProperty("lease_holder");
    expect(item).not.toHaveProperty("lease_expires_at");
  });

  it("leaves the queue listing while held, moves no counter, and release puts it back in its place", async () => {
    const stats = (await ana("GET", "/api/sft/stats")).body;
    const listed = async () =>
      (await ana("GET", "/api/sft/queue", { query: { run_id: RUN } })).body.items.map(
        (c: { id: string }) => c.id,
      );
    expect(await listed()).toEqual([idOf(RUN, 1), idOf(RUN, 2), idOf(RUN, 3)]);

    const next = await ana("POST", "/api/sft/next", { body: { run_id: RUN } });
    expect(next.body.candidate.id).toBe(idOf(RUN, 1));
    expect(await listed()).toEqual([idOf(RUN, 2), idOf(RUN, 3)]);
    expect((await ana("GET", "/api/sft/stats")).body).toEqual(stats);
    expect(await reviewStateCountersStored(aws)).toEqual(await recount(aws));
    expect((await bo("POST", "/api/sft/next", { body: { run_id: RUN } })).body.candidate.id).toBe(
      idOf(RUN, 2),
    );

    // Only the holder can release it; then it is the oldest again, for whoever asks next.
    const notHers = await bo("POST", "/api/sft/release", { body: { id: idOf(RUN, 1) } });
    expect(notHers.status).toBe(409);
    expect(notHers.body.detail).toMatch(/leased to reviewer1@example.com \(sub-reviewer-1\)/);
    expect(await ana("POST", "/api/sft/release", { body: { id: idOf(RUN, 1) } })).toEqual({
      status: 200,
      body: { ok: true },
    });
    expect(await listed()).toEqual([idOf(RUN, 1), idOf(RUN, 3)]);
    expect((await as(3)("POST", "/api/sft/next", { body: { run_id: RUN } })).body.candidate.id).toBe(
      idOf(RUN, 1),
    );
    expect((await as(3)("POST", "/api/sft/next", { body: { run_id: RUN } })).body.candidate.id).toBe(
      idOf(RUN, 3),
    );
    expect(await as(4)("POST", "/api/sft/next", { body: { run_id: RUN } })).toEqual({
      status: 200,
      body: { candidate: null, lease: null },
    });
    expect((await ana("GET", "/api/sft/stats")).body).toEqual(stats);
  });

  it("is in an export of needs_review candidates while held", async () => {
    const { queue } = adapters();
    const streamed: string[] = [];
    for await (const batch of queue.stream({
      statuses: ["needs_review"],
      filters: { run_id: RUN },
      range: {},
    })) {
      streamed.push(...batch.map((c) => c.id));
    }
    expect(streamed.sort()).toEqual([idOf(RUN, 1), idOf(RUN, 2), idOf(RUN, 3)]);
  });
});

describe("a skip", () => {
  it("releases the candidate for others, and next passes over what the caller skipped", async () => {
    const RUN = "2026-02-05-skip";
    await seed(RUN, 3, START + 2 * 86_400_000);
    const first = await ana("POST", "/api/sft/next", { body: { run_id: RUN } });
    expect(first.body.candidate.id).toBe(idOf(RUN, 0));
    expect((await ana("POST", "/api/sft/release", { body: { id: idOf(RUN, 0) } })).status).toBe(200);

    const passedOver = await ana("POST", "/api/sft/next", { body: { run_id: RUN, skip: [idOf(RUN, 0)] } });
    expect(passedOver.body.candidate.id).toBe(idOf(RUN, 1));
    expect((await bo("POST", "/api/sft/next", { body: { run_id: RUN } })).body.candidate.id).toBe(
      idOf(RUN, 0),
    );
  });
});

describe("an expired lease", () => {
  it("is reclaimed by the next call of anyone, before the queue's oldest", async () => {
    const RUN = "2026-02-03-expiry";
    await seed(RUN, 3, START - 86_400_000);
    const { leases } = adapters();
    const t0 = new Date();
    const at = (seconds: number) => ({ leases, now: () => new Date(t0.getTime() + seconds * 1000) });
    const request = NextRequest.parse({ run_id: RUN, lease_seconds: 30 });

    const first = await nextCandidate(at(0), request, { id: "sub-ana", name: "ana" });
    expect(first.candidate?.id).toBe(idOf(RUN, 0));
    expect((await nextCandidate(at(29), request, { id: "sub-bo", name: "bo" })).candidate?.id).toBe(
      idOf(RUN, 1),
    );

    const reclaimed = await nextCandidate(at(31), request, { id: "sub-cy", name: "cy" });
    expect(reclaimed.candidate?.id).toBe(idOf(RUN, 0));
    expect(await storedItem(idOf(RUN, 0))).toMatchObject({
      lease_holder: "sub-cy",
      lease_expires_at: new Date(t0.getTime() + 61_000).toISOString(),
    });
  });
});

describe("the cost of next", () => {
  it("stays flat with 1,000 leased candidates ahead of the first free one", async () => {
    // A table of its own, so the queue holds only this run.
    const shared = aws;
    aws = await provisionTestAws("leasecost");
    try {
      const RUN = "2026-02-04-cost";
      await uploadRun(aws, RUN, candidateLines(RUN, 1_010, START));
      vi.stubEnv("TABLE_NAME", aws.resources.tableName);
      vi.stubEnv("BUCKET_NAME", aws.resources.bucket);
      vi.resetModules();
      ({ handler } = await import("../../../functions/api.ts"));
      expect((await ana("POST", "/api/sft/import", { body: { run_id: RUN } })).body).toEqual({
        imported: 1_010,
        skipped: 0,
      });

      let itemsRead = 0;
      let requests = 0;
      const real = aws.clients.dynamodb;
      const spy = {
        send: async (command: Parameters<typeof real.send>[0]) => {
          requests++;
          const out = (await real.send(command as never)) as Record<string, unknown>;
          itemsRead +=
            typeof out.ScannedCount === "number" ? out.ScannedCount : out.Item || out.Attributes ? 1 : 0;
          return out;
        },
      } as unknown as DynamoDBDocumentClient;
      const measured = { leases: adapters(spy).leases };
      const free = { leases: adapters().leases };
      const measure = async (who: string) => {
        itemsRead = 0;
        requests = 0;
        const reply = await nextCandidate(measured, NextRequest.parse({}), who);
        return { id: reply.candidate?.id, itemsRead, requests };
      };

      const before = await measure("sub-probe");
      expect(before.id).toBe(idOf(RUN, 0));
      await releaseAs(free.leases, idOf(RUN, 0), "sub-probe");

      // The 1,000 oldest are leased, each by its own conditional write.
      const lease = planLease("sub-holder", new Date(), 3_600);
      for (let n = 0; n < 1_000; n += 50) {
        const claimed = await Promise.all(
          Array.from({ length: 50 }, (_, i) =>
            free.leases.claim({ id: idOf(RUN, n + i) }, lease, new Date().toISOString()),
          ),
        );
        expect(claimed.every((c) => c !== null)).toBe(true);
      }

      const after = await measure("sub-probe");
      expect(after.id).toBe(idOf(RUN, 1_000));
      expect(after.itemsRead).toBeLessThanOrEqual(before.itemsRead);
      expect(after.itemsRead).toBeLessThanOrEqual(50);
      expect(after.requests).toBeLessThanOrEqual(before.requests);
    } finally {
      aws = shared;
    }
  }, 120_000);
});

async function releaseAs(leases: LeaseTable, id: string, holder: string) {
  expect(await leases.release(id, holder)).toEqual({ released: true });
}
