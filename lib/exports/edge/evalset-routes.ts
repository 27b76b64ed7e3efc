import type { Router } from "@aws-lambda-powertools/event-handler/http";
import type { HandlerResponse } from "@aws-lambda-powertools/event-handler/types";
import { NotFoundError, ValidationError } from "../../common/domain/errors.ts";
import type { ReviewerAuthenticator } from "../../common/http/auth.ts";
import { jsonReply } from "../../common/http/reply.ts";
import { parseJsonBody } from "../../common/http/request.ts";
import { guardedRoutes } from "../../common/http/routes.ts";
import { EvalSetName, EvalSetUpload } from "../domain/evalsets.ts";
import {
  deleteEvalSet,
  type EvalSetDeps,
  evalSetStatus,
  indexEvalSet,
  listEvalSets,
  registerEvalSet,
} from "../usecases/evalsets.ts";

const json = (value: unknown) => value as HandlerResponse;

/** The set a path names: a name no set can have is a 404 (a 422 where it would be created). */
function setName(params: Record<string, string | undefined>, creating = false): string {
  const parsed = EvalSetName.safeParse(params.name ?? "");
  if (parsed.success) return parsed.data;
  if (!creating) throw new NotFoundError(`Eval set ${params.name ?? ""} not found`);
  throw new ValidationError([
    { loc: ["path", "name"], msg: parsed.error.issues[0]?.message ?? "invalid", type: "value_error" },
  ]);
}

/**
 * Eval sets every export is checked against (`/api/evalsets`): registered from a JSONL body (or
 * JSON `{items}`), listed with their sizes, versions and item counts, removed. Sets uploaded
 * straight to `evalsets/<name>/` are listed and checked the same way.
 */
export function registerEvalSetRoutes(
  app: Router,
  deps: EvalSetDeps,
  authenticate: ReviewerAuthenticator,
): void {
  const routes = guardedRoutes(app, authenticate);

  routes.post("/api/evalsets/:name", async ({ req, params }) => {
    const name = setName(params, true);
    const type = req.headers.get("content-type") ?? "";
    const upload = /^application\/json\b/i.test(type)
      ? await parseJsonBody(req, EvalSetUpload)
      : { jsonl: await req.text() };
    return jsonReply(201, await registerEvalSet(deps, name, upload), {
      location: `/api/evalsets/${name}`,
    });
  });

  routes.post("/api/evalsets/:name/index", async ({ params }) =>
    json(await indexEvalSet(deps, setName(params))),
  );

  routes.get("/api/evalsets", async () => json(await listEvalSets(deps)));

  routes.get("/api/evalsets/:name", async ({ params }) => json(await evalSetStatus(deps, setName(params))));

  routes.delete("/api/evalsets/:name", async ({ params }) =>
    json(await deleteEvalSet(deps, setName(params))),
  );
}
