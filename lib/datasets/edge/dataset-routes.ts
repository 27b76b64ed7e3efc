import type { Router } from "@aws-lambda-powertools/event-handler/http";
import type { HandlerResponse } from "@aws-lambda-powertools/event-handler/types";
import { NotFoundError } from "../../common/domain/errors.ts";
import { type ReviewerAuthenticator, reviewerOf } from "../../common/http/auth.ts";
import { jsonReply } from "../../common/http/reply.ts";
import { parseJsonBody, parseQuery, pathId } from "../../common/http/request.ts";
import { guardedRoutes } from "../../common/http/routes.ts";
import { DiffQuery, ListQuery, PinRequest, VersionQuery, versionNumber } from "../domain/dataset-version.ts";
import {
  type DatasetDeps,
  datasetVersion,
  datasetVersions,
  diffVersions,
  listDatasets,
  pinDataset,
  versionView,
} from "../usecases/datasets.ts";

const json = (value: unknown) => value as HandlerResponse;

/** Time kept back before API Gateway's 30 s to answer a pin that is still copying. */
const ANSWER_MARGIN_MS = 3_000;

/**
 * Dataset versions: `POST /api/datasets` pins a finished export as the next version of a name
 * (201 new, 200 the version it already is, 202 still copying: post again to carry on); reading
 * lists versions with their manifests, signs a version's files, and diffs two versions' records.
 */
export function registerDatasetRoutes(app: Router, deps: DatasetDeps, authenticate: ReviewerAuthenticator) {
  const routes = guardedRoutes(app, authenticate);

  routes.post("/api/datasets", async (reqCtx) => {
    const request = await parseJsonBody(reqCtx.req, PinRequest);
    const deadline = Date.now() + reqCtx.context.getRemainingTimeInMillis() - ANSWER_MARGIN_MS;
    const { outcome, version } = await pinDataset(deps, request, reviewerOf(reqCtx), { deadline });
    const status = version.state !== "ready" ? 202 : outcome === "created" ? 201 : 200;
    return jsonReply(status, versionView(version), {
      location: `/api/datasets/${version.name}/versions/${version.version}`,
    });
  });

  routes.get("/api/datasets", async ({ req }) => json(await listDatasets(deps, parseQuery(req, ListQuery))));

  routes.get("/api/datasets/:name", async ({ params }) =>
    json(await datasetVersions(deps, pathId(params, "name", "Dataset"))),
  );

  routes.get("/api/datasets/:name/versions/:version", async ({ req, params }) => {
    const name = pathId(params, "name", "Dataset");
    const number = versionNumber(params.version);
    if (number === null) throw new NotFoundError(`Dataset ${name} has no version ${params.version}`);
    return json(await datasetVersion(deps, name, number, parseQuery(req, VersionQuery).expires_in));
  });

  routes.get("/api/datasets/:name/diff", async ({ req, params }) =>
    json(await diffVersions(deps, pathId(params, "name", "Dataset"), parseQuery(req, DiffQuery))),
  );
}
