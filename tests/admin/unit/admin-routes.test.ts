import { Router } from "@aws-lambda-powertools/event-handler/http";
import { describe, expect, it } from "vitest";
import { registerAdminRoutes } from "../../../lib/admin/edge/admin-routes.ts";
import type { RecountDeps } from "../../../lib/admin/usecases/recount.ts";
import { countersOf, mergeDeltas } from "../../../lib/common/domain/stats.ts";
import { localTokenAuthenticator } from "../../../lib/common/http/auth.ts";
import { registerErrorResponses } from "../../../lib/common/http/errors.ts";
import { MemoryCandidates, MemoryCounters } from "../../support/admin-fakes.ts";
import { variedCandidates } from "../../support/admin-fixtures.ts";
import { lambdaContext } from "../../support/events.ts";
import { type HttpRequest, httpEvent } from "../../support/http-events.ts";

const TOKEN = "reviewer-token-for-admin-routes";
const CANDIDATES = variedCandidates(12, "routes");

/** The admin routes on a router of their own, over a table in memory with one drifted counter. */
function appWith(extra: Partial<RecountDeps> = {}) {
  const scanner = new MemoryCandidates(CANDIDATES.map((c) => ({ ...c })));
  const counters = new MemoryCounters(mergeDeltas([...CANDIDATES.map(countersOf), { total: 2 }]));
  const app = new Router();
  registerErrorResponses(app);
  registerAdminRoutes(app, { candidates: scanner, counters, ...extra }, localTokenAuthenticator(TOKEN));
  const call = async (request: HttpRequest) => {
    const result = await app.resolve(httpEvent("POST", "/api/admin/recount", request), lambdaContext());
    return { status: result.statusCode, body: JSON.parse(result.body ?? "null") };
  };
  return { call, counters, scanner };
}

describe("POST /api/admin/recount", () => {
  it("answers 401 without a reviewer token, and reads nothing", async () => {
    const { call, counters, scanner } = appWith();
    expect((await call({ body: {} })).status).toBe(401);
    expect((await call({ body: {}, token: "not-the-token" })).status).toBe(401);
    expect(counters.reads).toBe(0);
    expect(scanner.calls).toEqual([]);
  });

  it("reports over 8 segments without repairing for an empty body", async () => {
    const { call, counters, scanner } = appWith();
    const reply = await call({ token: TOKEN });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      repair: false,
      segments: 8,
      candidates: 12,
      unrepaired: 1,
      differences: [
        { name: "total", stored: 14, counted: 12, difference: -2, moved_during_recount: false, repair: null },
      ],
    });
    expect(typeof reply.body.note).toBe("string");
    expect(scanner.calls).toHaveLength(8);
    expect(counters.sums().total).toBe(14);
  });

  it("repairs when asked, over the segments asked for", async () => {
    const { call, counters, scanner } = appWith();
    const reply = await call({ token: TOKEN, body: { repair: true, segments: 3 } });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ repair: true, segments: 3, unrepaired: 0 });
    expect(reply.body.differences).toEqual([expect.objectContaining({ name: "total", repair: "repaired" })]);
    expect(scanner.calls).toHaveLength(3);
    expect(counters.sums().total).toBe(12);
  });

  it.each([
    [{ segments: 0 }, "segments"],
    [{ segments: 65 }, "segments"],
    [{ repair: "yes" }, "repair"],
    [{ repair: true, dry_run: true }, "dry_run"],
  ])("answers 422 for %j and changes nothing", async (body, field) => {
    const { call, counters } = appWith();
    const reply = await call({ token: TOKEN, body });
    expect(reply.status).toBe(422);
    expect(JSON.stringify(reply.body.detail)).toContain(field);
    expect(counters.sums().total).toBe(14);
  });

  it("answers 422 for a body that is not JSON", async () => {
    const { call } = appWith();
    expect((await call({ token: TOKEN, body: "repair please" })).status).toBe(422);
  });

  it("answers 503 naming the way out when the table is too large for a request", async () => {
    let clock = 0;
    const { call, scanner, counters } = appWith({ now: () => clock, timeBudgetMs: 1_500 });
    scanner.afterPage = () => {
      clock += 1_000;
    };
    const reply = await call({ token: TOKEN, body: { repair: true, segments: 1 } });
    expect(reply.status).toBe(503);
    expect(reply.body.detail).toMatch(/flywheel admin recount --direct/);
    expect(counters.sums().total).toBe(14);
  });
});
