/**
 * Who may call what, declared once. Scopes are what a token carries (a Cognito resource server's
 * custom scopes, `flywheel/<name>`); roles are what a team hands out (a user pool group per role
 * for people, an app client's allowed scopes for machines); every route names the one scope it
 * needs. The API function, the HTTP API's routes in CDK, the user pool's groups and its
 * resource server are all built from these three tables.
 */

/** The resource server's identifier: a scope on a token reads `flywheel/<scope>`. */
export const RESOURCE_SERVER = "flywheel";

export const SCOPES = {
  /** Read the review queue, runs, candidates and stats; decide and undo; import a run. */
  review: "review",
  /** Build and download datasets. */
  export: "export",
  /** Change the runs prefix, backfill provenance, recount counters. */
  admin: "admin",
  /** Send approved corrections for the product's own source (`POST /api/sft/ingest`). */
  ingest: "ingest",
  /** Record chat sessions and their users' feedback. */
  evalWrite: "eval.write",
  /** Read sessions, feedback, judge runs and eval stats. */
  evalRead: "eval.read",
  /** Start judge runs (each one calls a paid model). */
  evalJudge: "eval.judge",
  /** Read provenance coverage and which records miss what. */
  provenanceRead: "provenance.read",
} as const;
export type Scope = (typeof SCOPES)[keyof typeof SCOPES];
export const ALL_SCOPES: readonly Scope[] = Object.values(SCOPES);

/** The full name of a scope on a token. */
export const scopeName = (scope: Scope) => `${RESOURCE_SERVER}/${scope}`;

/** The roles a team hands out, and the scopes behind each. */
export const ROLES = {
  /** Works the review queue and watches chat quality. */
  reviewer: [SCOPES.review, SCOPES.evalRead, SCOPES.provenanceRead],
  /** An ML engineer or a training harness: builds datasets and sees what they will hold. */
  exporter: [SCOPES.export, SCOPES.provenanceRead],
  /** Runs the deployment: everything a person can do. */
  admin: [
    SCOPES.review,
    SCOPES.export,
    SCOPES.admin,
    SCOPES.evalRead,
    SCOPES.evalWrite,
    SCOPES.evalJudge,
    SCOPES.provenanceRead,
  ],
  /** A product that publishes its users' corrections, for its own source only. */
  product: [SCOPES.ingest],
  /** A chat product that records sessions and its users' likes and dislikes. */
  "eval-writer": [SCOPES.evalWrite],
  /** Whoever owns chat quality: reads eval results and starts judge runs. */
  "eval-lead": [SCOPES.evalRead, SCOPES.evalJudge],
} as const satisfies Record<string, readonly Scope[]>;
export type Role = keyof typeof ROLES;
export const ALL_ROLES = Object.keys(ROLES) as Role[];

/** Route key: the method and the router's path pattern, as registered. */
export type RouteKey = `${"GET" | "POST" | "PUT" | "PATCH" | "DELETE"} /api/${string}`;

/** `open`: no token at the gateway (the health check; ingest checks its own tokens in the function). */
export type RouteAccess = Scope | "open";

/**
 * Every route of the API and the scope it needs. A route missing here cannot be registered
 * (`GuardedRoutes` throws at start-up), and every route here must be registered.
 */
export const ROUTE_ACCESS = {
  "GET /api/health": "open",
  "GET /api/openapi.json": "open",
  "POST /api/sft/ingest": "open",

  "GET /api/sft/runs": SCOPES.review,
  "POST /api/sft/import": SCOPES.review,
  "GET /api/sft/queue": SCOPES.review,
  "POST /api/sft/next": SCOPES.review,
  "POST /api/sft/release": SCOPES.review,
  "POST /api/sft/bulk": SCOPES.admin,
  "GET /api/sft/bulk/:id": SCOPES.admin,
  "POST /api/sft/bulk/:id/run": SCOPES.admin,
  "POST /api/sft/bulk/:id/undo": SCOPES.admin,
  "POST /api/sft/suggestions": SCOPES.admin,
  "GET /api/sft/suggestions/:id": SCOPES.admin,
  "POST /api/sft/submit": SCOPES.review,
  "POST /api/sft/undo": SCOPES.review,
  "GET /api/sft/stats": SCOPES.review,
  "GET /api/sft/config": SCOPES.review,
  "POST /api/sft/config": SCOPES.admin,
  "GET /api/sft/candidates/:id": SCOPES.review,
  "GET /api/sft/review-policy": SCOPES.review,
  "POST /api/sft/review-policy": SCOPES.admin,
  "GET /api/sft/adjudication": SCOPES.admin,
  "POST /api/sft/adjudication/:id": SCOPES.admin,
  "GET /api/sft/stats/agreement": SCOPES.review,
  "GET /api/sft/stats/reviewers": SCOPES.review,
  "GET /api/sft/runs/:run_id/quarantine": SCOPES.review,
  "GET /api/sft/ingest/quarantine": SCOPES.review,

  "POST /api/exports": SCOPES.export,
  "GET /api/exports": SCOPES.export,
  "GET /api/exports/:id": SCOPES.export,
  "GET /api/sft/export": SCOPES.export,
  "POST /api/evalsets/:name": SCOPES.export,
  "POST /api/evalsets/:name/index": SCOPES.export,
  "GET /api/evalsets": SCOPES.export,
  "GET /api/evalsets/:name": SCOPES.export,
  // Deleting a set changes what every later export is checked against: admins only.
  "DELETE /api/evalsets/:name": SCOPES.admin,
  "POST /api/datasets": SCOPES.export,
  "GET /api/datasets": SCOPES.export,
  "GET /api/datasets/:name": SCOPES.export,
  "GET /api/datasets/:name/versions/:version": SCOPES.export,
  "GET /api/datasets/:name/diff": SCOPES.export,

  "GET /api/provenance/report": SCOPES.provenanceRead,
  "GET /api/provenance/validate": SCOPES.provenanceRead,
  "POST /api/provenance/backfill": SCOPES.admin,

  "POST /api/admin/recount": SCOPES.admin,

  "POST /api/eval/sessions": SCOPES.evalWrite,
  "GET /api/eval/sessions": SCOPES.evalRead,
  "GET /api/v2/eval/sessions": SCOPES.evalRead,
  "GET /api/eval/sessions/:id": SCOPES.evalRead,
  "POST /api/eval/sessions/:id/candidates": SCOPES.review,
  "POST /api/eval/feedback": SCOPES.evalWrite,
  "GET /api/eval/feedback/:session_id": SCOPES.evalRead,
  "POST /api/eval/run": SCOPES.evalJudge,
  "GET /api/eval/run/:id": SCOPES.evalRead,
  "GET /api/eval/runs": SCOPES.evalRead,
  "GET /api/eval/stats": SCOPES.evalRead,
  "POST /api/eval/profiles": SCOPES.evalWrite,
  "GET /api/eval/profiles": SCOPES.evalRead,
} as const satisfies Record<RouteKey, RouteAccess>;
export type DeclaredRoute = keyof typeof ROUTE_ACCESS;

/** The scopes of a set of roles. */
export function scopesOfRoles(roles: Iterable<string>): Set<Scope> {
  const scopes = new Set<Scope>();
  for (const role of roles) {
    if (Object.hasOwn(ROLES, role)) for (const scope of ROLES[role as Role]) scopes.add(scope);
  }
  return scopes;
}

/**
 * The routes a set of scopes reaches, for the docs and the access matrix: every open route, and
 * each scoped route whose scope is held.
 */
export function routesReachable(scopes: ReadonlySet<Scope>): DeclaredRoute[] {
  return (Object.entries(ROUTE_ACCESS) as [DeclaredRoute, RouteAccess][])
    .filter(([, access]) => access === "open" || scopes.has(access))
    .map(([route]) => route);
}
