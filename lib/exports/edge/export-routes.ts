import type { Router } from "@aws-lambda-powertools/event-handler/http";
import type { HandlerResponse } from "@aws-lambda-powertools/event-handler/types";
import { ValidationError } from "../../common/domain/errors.ts";
import { type ReviewerAuthenticator, reviewerOf } from "../../common/http/auth.ts";
import { jsonReply } from "../../common/http/reply.ts";
import { parseJsonBody, parseQuery, pathId } from "../../common/http/request.ts";
import { guardedRoutes } from "../../common/http/routes.ts";
import { ExportListQuery, ExportRequest, ExportStatusQuery } from "../domain/export-request.ts";
import {
  avocetSftExport,
  createExport,
  type ExportApiDeps,
  exportStatus,
  listExports,
} from "../usecases/exports.ts";

const json = (value: unknown) => value as HandlerResponse;

/**
 * Exports: jobs that write a dataset to S3 through the contamination firewall (`/api/exports`),
 * and Avocet's `GET /api/sft/export`, a 303 to a signed URL of an SFT export built on the spot.
 * Reviewer authentication as the review API; the reviewer is the export's requester.
 */
export function registerExportRoutes(
  app: Router,
  deps: ExportApiDeps,
  authenticate: ReviewerAuthenticator,
): void {
  const routes = guardedRoutes(app, authenticate);

  routes.post("/api/exports", async (reqCtx) => {
    const request = await parseJsonBody(reqCtx.req, ExportRequest);
    const job = await createExport(deps, request, reviewerOf(reqCtx), idempotencyKeyOf(reqCtx.req));
    return jsonReply(202, job, { location: `/api/exports/${job.id}` });
  });

  routes.get("/api/exports", async ({ req }) =>
    json(await listExports(deps, parseQuery(req, ExportListQuery).limit)),
  );

  routes.get("/api/exports/:id", async ({ req, params }) =>
    json(
      await exportStatus(deps, pathId(params, "id", "Export"), parseQuery(req, ExportStatusQuery).expires_in),
    ),
  );

  routes.get("/api/sft/export", async (reqCtx) => {
    // Stop while there is still time to answer (API Gateway gives up after 30 s).
    const deadline = Date.now() + reqCtx.context.getRemainingTimeInMillis() - 3_000;
    const url = await avocetSftExport(deps, reviewerOf(reqCtx), { deadline });
    return new Response(null, { status: 303, headers: { location: url, "cache-control": "no-store" } });
  });
}

/** The `Idempotency-Key` header, if any: at most 256 characters, else a 422. */
function idempotencyKeyOf(req: Request): string | undefined {
  const key = req.headers.get("idempotency-key")?.trim();
  if (!key) return undefined;
  if (key.length > 256) {
    throw new ValidationError([
      { loc: ["header", "Idempotency-Key"], msg: "must be at most 256 characters", type: "string_too_long" },
    ]);
  }
  return key;
}
