import type { Component } from "vue";

/** Where the hash points: `#/exports/e1?x=1` is `{ path: "/exports/e1", query: { x: "1" } }`. */
export interface HashLocation {
  readonly path: string;
  readonly query: Readonly<Record<string, string>>;
}

/** What a route's `props` function is given to build its page's props. */
export interface RouteContext<Services> {
  readonly services: Services;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
}

export interface RouteDef<Services> {
  /** `/exports/:id`: a `:name` segment matches one non-empty segment, handed over as `params.name`. */
  readonly path: string;
  readonly component: Component;
  /** The page's props, from the services, the path's parameters and the query. */
  readonly props?: (context: RouteContext<Services>) => Record<string, unknown>;
  /** The window's title. */
  readonly title: string;
  /** The navigation entry this page belongs to (its link reads as current on this page). */
  readonly section: string;
}

export interface RouteMatch<Services> {
  readonly route: RouteDef<Services>;
  readonly params: Readonly<Record<string, string>>;
  readonly query: Readonly<Record<string, string>>;
  readonly path: string;
}

export function parseHash(hash: string): HashLocation {
  const raw = hash.replace(/^#/, "");
  const at = raw.indexOf("?");
  const pathPart = at === -1 ? raw : raw.slice(0, at);
  const path = `/${pathPart.replace(/^\/+/, "").replace(/\/+$/, "")}`;
  const query: Record<string, string> = {};
  if (at !== -1) {
    for (const [key, value] of new URLSearchParams(raw.slice(at + 1))) if (value !== "") query[key] = value;
  }
  return { path, query };
}

/** The hash for a path and query; empty query values are left out, keys in a stable order. */
export function hrefOf(
  path: string,
  query: Readonly<Record<string, string | null | undefined>> = {},
): string {
  const params = new URLSearchParams();
  for (const key of Object.keys(query).sort()) {
    const value = query[key];
    if (value !== undefined && value !== null && value !== "") params.set(key, value);
  }
  const search = params.toString();
  return `#${path}${search ? `?${search}` : ""}`;
}

export function matchRoute<Services>(
  routes: readonly RouteDef<Services>[],
  location: HashLocation,
): RouteMatch<Services> | null {
  const segments = location.path.split("/").filter(Boolean);
  for (const route of routes) {
    const pattern = route.path.split("/").filter(Boolean);
    if (pattern.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matched = pattern.every((part, i) => {
      const segment = segments[i] as string;
      if (part.startsWith(":")) {
        try {
          params[part.slice(1)] = decodeURIComponent(segment);
        } catch {
          return false;
        }
        return true;
      }
      return part === segment;
    });
    if (matched) return { route, params, query: location.query, path: location.path };
  }
  return null;
}

/**
 * Moves to a hash. `replace` rewrites the current history entry instead of adding one (a filter
 * change, so Back leaves the page rather than undoing a filter); listeners hear a `hashchange` either way.
 */
export function navigate(
  path: string,
  query: Readonly<Record<string, string | null | undefined>> = {},
  options: { replace?: boolean } = {},
): void {
  const href = hrefOf(path, query);
  if (options.replace) {
    window.history.replaceState(window.history.state, "", href);
    window.dispatchEvent(new Event("hashchange"));
  } else window.location.hash = href;
}
