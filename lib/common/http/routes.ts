import type { Router } from "@aws-lambda-powertools/event-handler/http";
import type { RouteHandler } from "@aws-lambda-powertools/event-handler/types";
import { type DeclaredRoute, ROUTE_ACCESS } from "./access.ts";
import { type ReviewerAuthenticator, requireScope } from "./auth.ts";

/** A route registered on `app` that `ROUTE_ACCESS` does not declare. */
export class UndeclaredRouteError extends Error {
  constructor(readonly route: string) {
    super(`${route} has no declared scope: add it to ROUTE_ACCESS (lib/common/http/access.ts)`);
    this.name = "UndeclaredRouteError";
  }
}

/** The routes each router has registered through `guardedRoutes`. */
const registered = new WeakMap<Router, Set<DeclaredRoute>>();

/**
 * Registers routes on `app` with the scope `ROUTE_ACCESS` declares for each: a route it does not
 * declare throws at start-up, a scoped route authenticates and checks its scope before the
 * handler runs, an open route runs as it is.
 */
export function guardedRoutes(app: Router, authenticate?: ReviewerAuthenticator) {
  const seen = registered.get(app) ?? new Set<DeclaredRoute>();
  registered.set(app, seen);
  const add = (method: "GET" | "POST" | "DELETE", path: `/${string}`, handler: RouteHandler) => {
    const route = `${method} ${path}`;
    if (!Object.hasOwn(ROUTE_ACCESS, route)) throw new UndeclaredRouteError(route);
    const access = ROUTE_ACCESS[route as DeclaredRoute];
    seen.add(route as DeclaredRoute);
    const register =
      method === "GET" ? app.get.bind(app) : method === "DELETE" ? app.delete.bind(app) : app.post.bind(app);
    if (access === "open") return register(path, handler);
    if (!authenticate) throw new Error(`${route} needs the scope ${access}, but no authenticator was given`);
    register(path, [requireScope(authenticate, access)], handler);
  };
  return {
    get: (path: `/${string}`, handler: RouteHandler) => add("GET", path, handler),
    post: (path: `/${string}`, handler: RouteHandler) => add("POST", path, handler),
    delete: (path: `/${string}`, handler: RouteHandler) => add("DELETE", path, handler),
  };
}

/** Declared routes `app` has not registered: each must be, so the table says what the API serves. */
export function unregisteredRoutes(app: Router): DeclaredRoute[] {
  const seen = registered.get(app) ?? new Set();
  return (Object.keys(ROUTE_ACCESS) as DeclaredRoute[]).filter((route) => !seen.has(route));
}
