import {
  MethodNotAllowedError,
  NotFoundError as RouteNotFoundError,
  Router,
} from "@aws-lambda-powertools/event-handler/http";
import { describe, expect, it, vi } from "vitest";
import { z } from "zod";
import {
  ConflictError,
  ForbiddenError,
  NotConfiguredError,
  NotFoundError,
  PayloadTooLargeError,
  TimeLimitError,
  TooLargeForRequestError,
  UnauthorizedError,
  ValidationError,
} from "../../../lib/common/domain/errors.ts";
import {
  bearerToken,
  jwtClaimsAuthenticator,
  LOCAL_REVIEWER,
  localTokenAuthenticator,
  reviewerAuthenticator,
  sameSecret,
} from "../../../lib/common/http/auth.ts";
import { errorResponse, registerErrorResponses } from "../../../lib/common/http/errors.ts";
import { parseJsonBody, parseQuery } from "../../../lib/common/http/request.ts";
import {
  decodeCursor,
  encodeCursor,
  type QueuePosition,
  QueueQuery,
} from "../../../lib/review/domain/queue.ts";
import { registerReviewRoutes } from "../../../lib/review/edge/review-routes.ts";
import type { ReviewApiDeps } from "../../../lib/review/wiring.ts";
import { lambdaContext } from "../../support/events.ts";
import { httpEvent } from "../../support/http-events.ts";
import { MemoryReviewStore, storedCandidate } from "../../support/review-fakes.ts";

describe("errorResponse", () => {
  it.each([
    [new NotFoundError("Candidate x not found"), 404, "Candidate x not found"],
    [
      new ConflictError("Candidate x is approved (current status: approved)", "approved"),
      409,
      "Candidate x is approved (current status: approved)",
    ],
    [new ValidationError("bad"), 422, "bad"],
    [
      new ValidationError([{ loc: ["body", "id"], msg: "required", type: "missing" }]),
      422,
      [{ loc: ["body", "id"], msg: "required", type: "missing" }],
    ],
    [new UnauthorizedError("no token"), 401, "no token"],
    [new ForbiddenError("another source"), 403, "another source"],
    [new PayloadTooLargeError("too big"), 413, "too big"],
    [new TooLargeForRequestError("use a job"), 413, "use a job"],
    [new NotConfiguredError("no token configured"), 503, "no token configured"],
    [new TimeLimitError("out of time"), 503, "out of time"],
    [new RouteNotFoundError("Route /x for method GET not found"), 404, "Route /x for method GET not found"],
    [new MethodNotAllowedError("nope"), 405, "nope"],
  ])("maps %o by its class", (error, status, detail) => {
    expect(errorResponse(error)).toEqual({ status, body: { detail } });
  });

  it("keeps status codes at the edge: a domain error carries none", () => {
    expect(Object.keys(new ConflictError("stale", "approved"))).not.toContain("status");
    expect("status" in new NotFoundError("gone")).toBe(false);
  });

  it("turns anything else into a logged 500 that says nothing about the cause", () => {
    const logger = { error: vi.fn() };
    const cause = Object.assign(new Error("ConditionalCheckFailed on table secret-name"), {
      name: "NotFoundError",
    });

    expect(errorResponse(cause, logger)).toEqual({ status: 500, body: { detail: "Internal Server Error" } });
    expect(logger.error).toHaveBeenCalledWith("request failed", cause);
  });
});

describe("bearer tokens", () => {
  it.each([
    ["Bearer abc", "abc"],
    ["bearer abc", "abc"],
    ["Bearer   abc  ", "abc"],
    ["Basic abc", null],
    ["Bearer", null],
    ["Bearer a b", null],
    [null, null],
  ])("reads %j as %j", (header, token) => {
    expect(bearerToken(header)).toBe(token);
  });

  it("compares secrets of any length without throwing", () => {
    expect(sameSecret("token", "token")).toBe(true);
    expect(sameSecret("token", "tokem")).toBe(false);
    expect(sameSecret("t", "a much longer token")).toBe(false);
  });

  it("accept the local token as the local reviewer and refuse a missing or wrong one", () => {
    const authenticate = localTokenAuthenticator("s3cret");
    const withHeader = (value?: string) => ({
      event: {},
      headers: new Headers(value ? { authorization: value } : {}),
    });

    expect(authenticate(withHeader("Bearer s3cret"))).toMatchObject({ id: LOCAL_REVIEWER, kind: "local" });
    expect(() => authenticate(withHeader())).toThrow(UnauthorizedError);
    expect(() => authenticate(withHeader("Bearer s3creT"))).toThrow("Invalid bearer token");
    expect(() => localTokenAuthenticator("")).toThrow();
  });
});

describe("JWT claims", () => {
  const withClaims = (claims?: Record<string, unknown>) => ({
    event: { requestContext: claims ? { authorizer: { jwt: { claims } } } : {} },
    headers: new Headers(),
  });

  it("identify the caller by the immutable subject, with a display name by email, then user name", () => {
    const authenticate = jwtClaimsAuthenticator();
    const principal = (claims: Record<string, unknown>) => {
      const { id, name, kind } = authenticate(withClaims(claims));
      return { id, name, kind };
    };
    expect(principal({ sub: "u-1", email: "ana@example.com", username: "ana" })).toEqual({
      id: "u-1",
      name: "ana@example.com",
      kind: "person",
    });
    expect(principal({ sub: "u-1", username: "ana" })).toEqual({ id: "u-1", name: "ana", kind: "person" });
    expect(principal({ sub: "u-1", "cognito:username": "ana-c" })).toMatchObject({
      id: "u-1",
      name: "ana-c",
    });
    // A client-credentials token: no user, its subject and client are the app client.
    expect(principal({ sub: "c-9", client_id: "c-9", token_use: "access" })).toEqual({
      id: "c-9",
      name: "c-9",
      kind: "machine",
    });
  });

  it("grant the scopes of the token and of the roles its groups name, nothing else", () => {
    const authenticate = jwtClaimsAuthenticator();
    const scopesOf = (claims: Record<string, unknown>, scopes?: string[]) =>
      [
        ...authenticate({
          ...withClaims(claims),
          event: { requestContext: { authorizer: { jwt: { claims, scopes } } } },
        }).scopes,
      ].sort();
    expect(scopesOf({ sub: "u", "cognito:groups": "[reviewer]" })).toEqual([
      "eval.read",
      "provenance.read",
      "review",
    ]);
    expect(scopesOf({ sub: "u", "cognito:groups": ["exporter", "nobody"] })).toEqual([
      "export",
      "provenance.read",
    ]);
    expect(scopesOf({ sub: "c", scope: "flywheel/ingest other/admin flywheel/unknown" })).toEqual(["ingest"]);
    expect(scopesOf({ sub: "c" }, ["flywheel/eval.write"])).toEqual(["eval.write"]);
    expect(scopesOf({ sub: "u" })).toEqual([]);
  });

  it("are required: without verified claims the request is refused", () => {
    expect(() => jwtClaimsAuthenticator()(withClaims())).toThrow(UnauthorizedError);
    expect(() => jwtClaimsAuthenticator()(withClaims({ sub: "" }))).toThrow(UnauthorizedError);
  });

  it("are the mode unless a local token is configured", () => {
    const request = {
      ...withClaims({ sub: "u-1" }),
      headers: new Headers({ authorization: "Bearer local" }),
    };
    expect(reviewerAuthenticator({})(request).id).toBe("u-1");
    expect(reviewerAuthenticator({ REVIEWER_TOKEN: "local" })(request).id).toBe(LOCAL_REVIEWER);
    expect(() => reviewerAuthenticator({ REVIEWER_TOKEN: "other" })(request)).toThrow(UnauthorizedError);
  });
});

describe("request parsing", () => {
  const Body = z.object({ id: z.string() });

  it("reports schema failures as FastAPI-style issues under body or query", async () => {
    const request = new Request("https://x/api?page=0", { method: "POST", body: JSON.stringify({}) });
    const refused = await parseJsonBody(request, Body).catch((error: unknown) => error);
    expect(errorResponse(refused)).toMatchObject({
      status: 422,
      body: { detail: [{ loc: ["body", "id"], type: "missing", msg: expect.any(String) }] },
    });
    expect(() => parseQuery(request, QueueQuery)).toThrow(ValidationError);
  });

  it("refuses a body that is not JSON", async () => {
    const request = new Request("https://x/api", { method: "POST", body: "id=1" });
    await expect(parseJsonBody(request, Body)).rejects.toMatchObject({
      detail: [{ loc: ["body"], type: "json_invalid" }],
    });
  });
});

describe("QueueQuery", () => {
  it("defaults to the first page of 20 and keeps the bounds of Avocet", () => {
    expect(QueueQuery.parse({})).toMatchObject({ page: 1, per_page: 20 });
    expect(QueueQuery.parse({ page: "3", per_page: "200" })).toMatchObject({ page: 3, per_page: 200 });
    for (const bad of [
      { page: "0" },
      { page: "1.5" },
      { per_page: "0" },
      { per_page: "201" },
      { page: "" },
    ]) {
      expect(QueueQuery.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it("bounds how deep a page number reaches, and leaves deeper paging to the cursor", () => {
    expect(QueueQuery.safeParse({ page: "51", per_page: "200" }).success).toBe(true);
    const deep = QueueQuery.safeParse({ page: "100000" });
    expect(deep.success).toBe(false);
    expect(deep.error?.issues[0]?.path).toEqual(["page"]);
    expect(deep.error?.issues[0]?.message).toContain("next_cursor");
    expect(QueueQuery.safeParse({ page: "52", per_page: "200" }).success).toBe(false);
  });

  it("trims filters and refuses empty ones", () => {
    expect(QueueQuery.parse({ model: " m1 " }).model).toBe("m1");
    expect(QueueQuery.safeParse({ model: "" }).success).toBe(false);
  });
});

describe("cursors", () => {
  it("round-trip per-shard positions and refuse anything else", () => {
    const position: QueuePosition = [
      ["2026-01-01T00:00:00.000Z#a", "a"],
      null,
      ["2026-01-02T00:00:00.000Z#b#c", "b#c"],
      null,
    ];
    const cursor = encodeCursor(position);

    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor, 4)).toEqual(position);
    expect(() => decodeCursor(cursor, 8)).toThrow(ValidationError);
    expect(() => decodeCursor("not-a-cursor", 4)).toThrow(ValidationError);
    expect(() => decodeCursor(Buffer.from('{"v":2,"p":[]}').toString("base64url"), 0)).toThrow(
      ValidationError,
    );
  });
});

/** The review routes on a router of their own, with in-memory use case ports. */
function appWith(store: MemoryReviewStore) {
  const app = new Router();
  registerErrorResponses(app);
  const notUsed = () => {
    throw new Error("not used by this test");
  };
  const counters = { read: async () => store.counters };
  const deps = {
    review: { store, now: () => new Date("2026-05-01T10:00:00.000Z") },
    queue: { queue: { shards: 4, walk: notUsed }, counters },
    leases: { leases: {} as ReviewApiDeps["leases"]["leases"] },
    bulk: {} as ReviewApiDeps["bulk"],
    // No vote store: every decision is a single review.
    votes: {} as ReviewApiDeps["votes"],
    counters,
    runs: {} as ReviewApiDeps["runs"],
  } as ReviewApiDeps;
  registerReviewRoutes(app, deps, jwtClaimsAuthenticator());
  return async (method: string, path: string, request: Parameters<typeof httpEvent>[2] = {}) => {
    const result = await app.resolve(httpEvent(method, path, request), lambdaContext());
    return { status: result.statusCode, body: JSON.parse(result.body ?? "null") };
  };
}

describe("review routes behind the JWT authorizer", () => {
  it("record the reviewer by the verified subject, not a claim the user may change", async () => {
    const store = new MemoryReviewStore().add(storedCandidate("c1"));
    const call = appWith(store);

    const reply = await call("POST", "/api/sft/submit", {
      claims: { sub: "u-1", email: "ana@example.com", "cognito:groups": "[reviewer]" },
      body: { id: "c1", action: "discard", failure_category: "format_error" },
    });

    expect(reply).toEqual({ status: 200, body: { ok: true } });
    // The email is kept beside the id for people to read, never in its place.
    expect(store.events).toEqual([
      expect.objectContaining({ reviewer: "u-1", reviewer_name: "ana@example.com", action: "discard" }),
    ]);
    expect(store.candidates.get("c1")).toMatchObject({ status: "discarded", reviewer: "u-1" });
    expect(store.candidates.get("c1")?.provenance).toMatchObject({ excluded_by: "u-1" });
  });

  it("answer 403 naming the scope to a verified caller without it, and change nothing", async () => {
    const store = new MemoryReviewStore().add(storedCandidate("c1"));
    const call = appWith(store);

    const reply = await call("POST", "/api/sft/submit", {
      claims: { sub: "u-2", email: "exporter@example.com", "cognito:groups": "[exporter]" },
      body: { id: "c1", action: "discard", failure_category: "format_error" },
    });

    expect(reply).toEqual({
      status: 403,
      body: {
        detail: "This route needs the scope flywheel/review, which exporter@example.com does not hold",
      },
    });
    expect(store.events).toEqual([]);
  });

  it("answer 401 without claims before reading the body, and change nothing", async () => {
    const store = new MemoryReviewStore().add(storedCandidate("c1"));
    const call = appWith(store);

    const reply = await call("POST", "/api/sft/submit", { body: "{not json" });

    expect(reply.status).toBe(401);
    expect(store.events).toEqual([]);
  });

  it("serve stats from the counters", async () => {
    const call = appWith(new MemoryReviewStore().add(storedCandidate("c1"), storedCandidate("c2")));
    const reply = await call("GET", "/api/sft/stats", { claims: { sub: "u-1", scope: "flywheel/review" } });
    expect(reply.body).toMatchObject({
      total: 2,
      by_status: { needs_review: 2, approved: 0 },
      export_ready: 0,
    });
  });
});
