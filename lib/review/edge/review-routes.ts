import type { Router } from "@aws-lambda-powertools/event-handler/http";
import type { HandlerResponse } from "@aws-lambda-powertools/event-handler/types";
import { CANDIDATE_STATUSES } from "../../common/domain/candidate.ts";
import { reviewStats } from "../../common/domain/stats.ts";
import { ROUTE_ACCESS } from "../../common/http/access.ts";
import { principalOf, type ReviewerAuthenticator, reviewerOf } from "../../common/http/auth.ts";
import { jsonReply } from "../../common/http/reply.ts";
import { parseJsonBody, parseQuery, parseWith, pathId } from "../../common/http/request.ts";
import { guardedRoutes } from "../../common/http/routes.ts";
import { STATUS_INDEX_SHARDS } from "../../common/resources.ts";
import { ImportRunRequest, ReviewConfigRequest } from "../../import/domain/run-folders.ts";
import { deadlineOf } from "../../import/usecases/import-run.ts";
import {
  importRunFolder,
  listRuns,
  readReviewConfig,
  writeReviewConfig,
} from "../../import/usecases/run-folders.ts";
import { BulkBatch, BulkRequest } from "../domain/bulk.ts";
import {
  AdjudicationBody,
  AdjudicationQuery,
  AgreementQuery,
  ReviewPolicyRequest,
} from "../domain/double-review.ts";
import { NextRequest } from "../domain/lease.ts";
import { QueueQuery } from "../domain/queue.ts";
import { ReleaseRequest, SubmitRequest, UndoRequest } from "../domain/review.ts";
import { ReviewerStatsQuery } from "../domain/reviewer-numbers.ts";
import { countBulk, createBulk, findBulk, runBulk, undoBulk } from "../usecases/bulk.ts";
import {
  adjudicate,
  adjudicationQueue,
  agreementStats,
  decide,
  readPolicy,
  reviewerStats,
  undo,
  writePolicy,
} from "../usecases/double-review.ts";
import { nextCandidate, releaseLease } from "../usecases/leases.ts";
import { candidateDetail } from "../usecases/review.ts";
import { reviewQueue } from "../usecases/review-queue.ts";
import type { ReviewApiDeps } from "../wiring.ts";

/** The scope `POST /api/sft/config` needs, as the access table declares it. */
const CONFIG_CHANGE_SCOPE = ROUTE_ACCESS["POST /api/sft/config"];

/** Time kept in hand before the API's timeout when a request imports a run. */
const REQUEST_RESERVE_MS = 9_000;

/** Replies are plain data; the router serialises them as JSON. */
const json = (value: unknown) => value as HandlerResponse;

/**
 * The Avocet-compatible review API (`/api/sft/*`) and candidate detail. Every route here needs
 * an authenticated reviewer; each parses its input at the edge and calls one use case.
 */
export function registerReviewRoutes(
  app: Router,
  deps: ReviewApiDeps,
  authenticate: ReviewerAuthenticator,
): void {
  const routes = guardedRoutes(app, authenticate);

  routes.get("/api/sft/runs", async () => json(await listRuns(deps.runs)));

  // Avocet's answer is the counts (200). A run too big for the request goes on in the import
  // function and answers 202 with the counts so far and where its state shows.
  routes.post("/api/sft/import", async ({ req, context }) => {
    const { run_id } = await parseJsonBody(req, ImportRunRequest);
    const deadline = context ? deadlineOf(context, REQUEST_RESERVE_MS) : undefined;
    const result = await importRunFolder(deps.runs, run_id, deadline);
    return result.import_state === "importing" ? jsonReply(202, result) : json(result);
  });

  routes.get("/api/sft/queue", async ({ req }) =>
    json(await reviewQueue(deps.queue, parseQuery(req, QueueQuery))),
  );

  routes.post("/api/sft/next", async (reqCtx) => {
    const request = await parseJsonBody(reqCtx.req, NextRequest);
    return json(await nextCandidate(deps.leases, request, principalOf(reqCtx)));
  });

  routes.post("/api/sft/release", async (reqCtx) => {
    const { id } = await parseJsonBody(reqCtx.req, ReleaseRequest);
    await releaseLease(deps.leases, id, principalOf(reqCtx));
    return { ok: true };
  });

  // Bulk decisions: a dry run counts, a job is created, then worked and undone in batches.
  routes.post("/api/sft/bulk", async (reqCtx) => {
    const request = await parseJsonBody(reqCtx.req, BulkRequest);
    if (request.dry_run) return json({ dry_run: true, ...(await countBulk(deps.bulk, request)) });
    return jsonReply(201, await createBulk(deps.bulk, request, principalOf(reqCtx)));
  });

  routes.get("/api/sft/bulk/:id", async ({ params }) =>
    json(await findBulk(deps.bulk, pathId(params, "id", "Bulk"))),
  );

  routes.post("/api/sft/bulk/:id/run", async (reqCtx) => {
    const { limit } = await parseJsonBody(reqCtx.req, BulkBatch);
    const id = pathId(reqCtx.params, "id", "Bulk");
    return json(await runBulk(deps.bulk, id, limit, principalOf(reqCtx)));
  });

  routes.post("/api/sft/bulk/:id/undo", async (reqCtx) => {
    const { limit } = await parseJsonBody(reqCtx.req, BulkBatch);
    const id = pathId(reqCtx.params, "id", "Bulk");
    return json(await undoBulk(deps.bulk, id, limit, principalOf(reqCtx)));
  });

  routes.post("/api/sft/submit", async (reqCtx) => {
    const decision = await parseJsonBody(reqCtx.req, SubmitRequest);
    const outcome = await decide({ ...deps.votes, ...deps.review }, decision, principalOf(reqCtx));
    // Avocet's `{ok: true}`; `review` beside it says where a double review stands.
    return json(outcome.reviews_required ? { ok: true, review: outcome } : { ok: true });
  });

  // Double review: the policy, the adjudication queue, agreement and reviewer numbers.
  routes.get("/api/sft/review-policy", async () => json(await readPolicy(deps.votes)));

  routes.post("/api/sft/review-policy", async (reqCtx) => {
    const request = await parseJsonBody(reqCtx.req, ReviewPolicyRequest);
    return json(await writePolicy(deps.votes, request, principalOf(reqCtx)));
  });

  routes.get("/api/sft/adjudication", async ({ req }) =>
    json(await adjudicationQueue(deps.votes, parseQuery(req, AdjudicationQuery), STATUS_INDEX_SHARDS)),
  );

  routes.post("/api/sft/adjudication/:id", async (reqCtx) => {
    const id = pathId(reqCtx.params, "id", "Candidate");
    const body = await parseJsonBody(reqCtx.req, AdjudicationBody);
    const decision = parseWith(SubmitRequest, { ...body, id }, "body");
    return json({
      ok: true,
      review: await adjudicate({ ...deps.votes, ...deps.review }, decision, principalOf(reqCtx)),
    });
  });

  routes.get("/api/sft/stats/agreement", async ({ req }) =>
    json(await agreementStats(deps.votes, parseQuery(req, AgreementQuery))),
  );

  routes.get("/api/sft/stats/reviewers", async ({ req }) =>
    json(await reviewerStats(deps.votes, parseQuery(req, ReviewerStatsQuery))),
  );

  routes.post("/api/sft/undo", async (reqCtx) => {
    const { id } = await parseJsonBody(reqCtx.req, UndoRequest);
    await undo({ ...deps.votes, ...deps.review }, id, principalOf(reqCtx));
    return { ok: true };
  });

  routes.get("/api/sft/stats", async () => json(reviewStats(await deps.counters.read(), CANDIDATE_STATUSES)));

  routes.get("/api/sft/config", async (reqCtx) =>
    json({
      ...(await readReviewConfig(deps.runs)),
      // Whether this caller may change it, so a client can say so before anyone tries.
      can_change: principalOf(reqCtx).scopes.has(CONFIG_CHANGE_SCOPE),
    }),
  );

  routes.post("/api/sft/config", async (reqCtx) => {
    const { bench_results_dir } = await parseJsonBody(reqCtx.req, ReviewConfigRequest);
    return json(await writeReviewConfig(deps.runs, bench_results_dir, reviewerOf(reqCtx)));
  });

  routes.get("/api/sft/candidates/:id", async ({ params }) =>
    json(await candidateDetail(deps.review, pathId(params, "id", "Candidate"))),
  );
}
