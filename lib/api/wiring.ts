import { Router } from "@aws-lambda-powertools/event-handler/http";
import type { HandlerResponse, RouteHandler } from "@aws-lambda-powertools/event-handler/types";
import type { AwsClients } from "../common/adapters/aws-clients.ts";
import {
  EvalApiConfig,
  ExportApiConfig,
  IngestApiConfig,
  loadConfig,
  type ReviewApiConfig,
  SuggestApiConfig,
} from "../common/config.ts";
import { type DeclaredRoute, ROUTE_ACCESS } from "../common/http/access.ts";
import { reviewerAuthenticator } from "../common/http/auth.ts";
import { registerErrorResponses } from "../common/http/errors.ts";
import { routerHandler } from "../common/http/handler.ts";
import { guardedRoutes, unregisteredRoutes } from "../common/http/routes.ts";
import { logger } from "../common/logger.ts";
import type { SliceContext } from "./slices/context.ts";

/** One capability's routes: the paths they live under, and the module that registers them. */
interface Slice {
  /** Path prefixes: a route is the first slice's whose prefix is its path or a parent of it. */
  readonly paths: readonly `/api/${string}`[];
  /** Imports the capability's module (lib/api/slices/), whose `register` wires its routes. */
  load(): Promise<{ register(app: Router, context: SliceContext): void }>;
}

/**
 * The API's capabilities, in the order their paths are matched (the narrower prefixes first).
 * Each one's modules (use cases, adapters, schemas) are imported on the first request to one of
 * its routes, so a cold start evaluates none of them and a request evaluates only its own. Each
 * is a module of its own that imports only what it wires: esbuild keeps every export of a
 * dynamically imported module, so importing a slice's wiring.ts here would bundle the other
 * functions' wiring too.
 */
export const API_SLICES = {
  runQuarantine: {
    paths: ["/api/sft/runs/:run_id/quarantine"],
    load: () => import("./slices/run-quarantine.ts"),
  },
  ingestQuarantine: {
    paths: ["/api/sft/ingest/quarantine"],
    load: () => import("./slices/ingest-quarantine.ts"),
  },
  ingest: { paths: ["/api/sft/ingest"], load: () => import("./slices/ingest.ts") },
  suggest: { paths: ["/api/sft/suggestions"], load: () => import("./slices/suggest.ts") },
  exports: { paths: ["/api/exports", "/api/sft/export"], load: () => import("./slices/exports.ts") },
  review: { paths: ["/api/sft"], load: () => import("./slices/review.ts") },
  evalSets: { paths: ["/api/evalsets"], load: () => import("./slices/evalsets.ts") },
  datasets: { paths: ["/api/datasets"], load: () => import("./slices/datasets.ts") },
  eval: { paths: ["/api/eval", "/api/v2/eval"], load: () => import("./slices/eval.ts") },
  provenance: { paths: ["/api/provenance"], load: () => import("./slices/provenance.ts") },
  admin: { paths: ["/api/admin"], load: () => import("./slices/admin.ts") },
} satisfies Record<string, Slice>;
export type SliceName = keyof typeof API_SLICES;

/** Routes the API function serves itself, before any capability is loaded. */
const OWN_ROUTES: readonly DeclaredRoute[] = ["GET /api/health", "GET /api/openapi.json"];

/** The capability a declared route belongs to, by its path. */
export function sliceOf(route: DeclaredRoute): SliceName {
  const path = route.slice(route.indexOf(" ") + 1);
  for (const [name, slice] of Object.entries(API_SLICES) as [SliceName, Slice][]) {
    if (slice.paths.some((prefix) => path === prefix || path.startsWith(`${prefix}/`))) return name;
  }
  throw new Error(
    `${route} is under no capability's paths: add its prefix to API_SLICES (lib/api/wiring.ts)`,
  );
}

/** The declared routes each capability must serve. */
export function routesOfSlices(): Map<SliceName, DeclaredRoute[]> {
  const routes = new Map<SliceName, DeclaredRoute[]>();
  for (const route of Object.keys(ROUTE_ACCESS) as DeclaredRoute[]) {
    if (OWN_ROUTES.includes(route)) continue;
    const name = sliceOf(route);
    routes.set(name, [...(routes.get(name) ?? []), route]);
  }
  return routes;
}

/**
 * Loads a capability and takes its route handlers: it registers on a stand-in of the router that
 * keeps each route's handler (its scope check, the same `ROUTE_ACCESS` entry, runs on the real
 * router in front of it). A capability serving other routes than those its paths give it is a
 * wiring mistake, refused as the whole router's start-up refuses an undeclared route.
 */
export async function loadSlice(
  name: SliceName,
  context: SliceContext,
  expected: readonly DeclaredRoute[] = routesOfSlices().get(name) ?? [],
): Promise<Map<DeclaredRoute, RouteHandler>> {
  const handlers = new Map<DeclaredRoute, RouteHandler>();
  const keep =
    (method: string) =>
    (path: string, ...rest: unknown[]) => {
      handlers.set(`${method} ${path}` as DeclaredRoute, rest.at(-1) as RouteHandler);
    };
  const standIn = { get: keep("GET"), post: keep("POST"), delete: keep("DELETE") } as unknown as Router;
  (await API_SLICES[name].load()).register(standIn, context);
  const extra = [...handlers.keys()].filter((route) => !expected.includes(route));
  const missing = expected.filter((route) => !handlers.has(route));
  if (extra.length > 0 || missing.length > 0) {
    throw new Error(
      `the ${name} routes of API_SLICES (lib/api/wiring.ts) do not match: ${[
        ...extra.map((route) => `${route} served but under another capability's paths`),
        ...missing.map((route) => `${route} not served`),
      ].join("; ")}`,
    );
  }
  return handlers;
}

/**
 * The one HTTP API: every declared route on one router, with errors mapped to `{"detail": ...}`
 * in one place. Every route is registered at once with its scope check; the capability behind
 * it (`API_SLICES`) is imported and wired on its first request, and kept.
 */
export function createApiRouter(clients: AwsClients, config: ReviewApiConfig): Router {
  const app = new Router({ logger });
  registerErrorResponses(app, logger);
  const reviewer = reviewerAuthenticator(config);
  // Every configuration is read now: a missing variable fails the cold start, not a request.
  const context: SliceContext = {
    clients,
    config,
    reviewer,
    exportConfig: loadConfig(ExportApiConfig),
    ingestConfig: loadConfig(IngestApiConfig),
    evalConfig: loadConfig(EvalApiConfig),
    suggestConfig: loadConfig(SuggestApiConfig),
  };

  const open = guardedRoutes(app);
  open.get("/api/health", async () => ({ ok: true }));
  // Built on the first request, not at cold start: only documentation readers pay for it.
  let contract: Promise<Record<string, unknown>> | undefined;
  open.get("/api/openapi.json", async () => {
    contract ??= import("./contract.ts").then(({ openApiDocument }) =>
      openApiDocument(context.exportConfig.CODE_VERSION ?? "dev"),
    );
    return (await contract) as HandlerResponse;
  });

  const loaded = new Map<SliceName, Promise<Map<DeclaredRoute, RouteHandler>>>();
  const handlersOf = (name: SliceName, expected: readonly DeclaredRoute[]) => {
    let handlers = loaded.get(name);
    if (!handlers) {
      handlers = loadSlice(name, context, expected);
      // A capability that failed to load is tried again by the next request.
      handlers.catch(() => loaded.delete(name));
      loaded.set(name, handlers);
    }
    return handlers;
  };
  const routes = guardedRoutes(app, reviewer);
  for (const [name, declared] of routesOfSlices()) {
    for (const route of declared) {
      const [method, path] = route.split(" ") as ["GET" | "POST" | "DELETE", `/${string}`];
      const handler: RouteHandler = async (reqCtx) =>
        ((await handlersOf(name, declared)).get(route) as RouteHandler)(reqCtx);
      if (method === "GET") routes.get(path, handler);
      else if (method === "DELETE") routes.delete(path, handler);
      else routes.post(path, handler);
    }
  }
  const missing = unregisteredRoutes(app);
  if (missing.length > 0) throw new Error(`declared in ROUTE_ACCESS but not served: ${missing.join(", ")}`);
  return app;
}

/**
 * The API function's handler: the router's, a header HTTP cannot carry answering 400
 * (`routerHandler`).
 */
export function createApiHandler(clients: AwsClients, config: ReviewApiConfig) {
  return routerHandler(createApiRouter(clients, config));
}
