import { Router } from "@aws-lambda-powertools/event-handler/http";
import { describe, expect, it } from "vitest";
import { leaseIndexKeys } from "../../../lib/common/adapters/table-keys.ts";
import { ConflictError, NotFoundError } from "../../../lib/common/domain/errors.ts";
import { jwtClaimsAuthenticator } from "../../../lib/common/http/auth.ts";
import { registerErrorResponses } from "../../../lib/common/http/errors.ts";
import {
  blockingLease,
  DEFAULT_LEASE_SECONDS,
  isLeaseActive,
  leaseConflict,
  MAX_CLAIM_ATTEMPTS,
  matchesFilters,
  NextRequest,
  planLease,
} from "../../../lib/review/domain/lease.ts";
import { planDecision, planUndo, SubmitRequest, staleConflict } from "../../../lib/review/domain/review.ts";
import { registerReviewRoutes } from "../../../lib/review/edge/review-routes.ts";
import { nextCandidate, releaseLease } from "../../../lib/review/usecases/leases.ts";
import { submitDecision } from "../../../lib/review/usecases/review.ts";
import type { ReviewApiDeps } from "../../../lib/review/wiring.ts";
import { lambdaContext } from "../../support/events.ts";
import { httpEvent } from "../../support/http-events.ts";
import { MemoryLeaseStore, MemoryReviewStore, storedCandidate } from "../../support/review-fakes.ts";

const T0 = new Date("2026-05-01T10:00:00.000Z");
const later = (seconds: number) => new Date(T0.getTime() + seconds * 1000);
const ANA = { id: "sub-ana", name: "ana@example.com" };
const BO = { id: "sub-bo", name: "bo@example.com" };
const defaults = NextRequest.parse({});

function world(count = 5) {
  const store = new MemoryReviewStore().add(
    ...Array.from({ length: count }, (_, i) => storedCandidate(`c${i}`)),
  );
  const leases = new MemoryLeaseStore(store);
  let clock = T0;
  const deps = { leases, now: () => clock, random: () => 0 };
  return {
    store,
    leases,
    deps,
    review: { store, now: () => clock },
    at: (time: Date) => {
      clock = time;
    },
  };
}

describe("NextRequest", () => {
  it("leases for 10 minutes unless told otherwise, within 30 s and an hour", () => {
    expect(defaults.lease_seconds).toBe(DEFAULT_LEASE_SECONDS);
    expect(DEFAULT_LEASE_SECONDS).toBe(600);
    expect(NextRequest.parse({ lease_seconds: 30 }).lease_seconds).toBe(30);
    expect(NextRequest.parse({ lease_seconds: 3600 }).lease_seconds).toBe(3600);
    for (const bad of [29, 3601, 60.5, "60", -1]) {
      expect(NextRequest.safeParse({ lease_seconds: bad }).success, String(bad)).toBe(false);
    }
  });

  it("takes the queue's filters, trimmed, and refuses blank ones", () => {
    expect(NextRequest.parse({ model: " m1 ", run_id: "r" })).toMatchObject({ model: "m1", run_id: "r" });
    expect(NextRequest.safeParse({ task_type: "  " }).success).toBe(false);
  });
});

describe("lease rules", () => {
  const lease = planLease(ANA, T0, 60);
  const fields = {
    lease_holder: lease.holder,
    lease_holder_name: lease.holder_name,
    lease_expires_at: lease.expires_at,
  };

  it("holds for the lease time from when it was taken, by the caller's id with their name", () => {
    expect(lease).toEqual({
      holder: "sub-ana",
      holder_name: "ana@example.com",
      expires_at: "2026-05-01T10:01:00.000Z",
    });
  });

  it("blocks others until it expires, never its holder, and is over at its expiry instant", () => {
    expect(blockingLease(fields, BO, later(59))).toEqual(lease);
    expect(blockingLease(fields, ANA, later(59))).toBeNull();
    expect(blockingLease(fields, BO, later(60))).toBeNull();
    expect(isLeaseActive(lease, later(60))).toBe(false);
    expect(blockingLease({}, BO, T0)).toBeNull();
  });

  it("names the holder, by name and id, in its conflict", () => {
    const error = leaseConflict("c1", lease);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.message).toBe(
      "Candidate c1 is leased to ana@example.com (sub-ana) until 2026-05-01T10:01:00.000Z (current status: needs_review)",
    );
  });

  it("keys a leased candidate by its expiry in a lease partition of the status index", () => {
    expect(leaseIndexKeys({ id: "c1" }, lease.expires_at)).toEqual({
      gsi1pk: expect.stringMatching(/^LEASE#[0-3]$/),
      gsi1sk: "2026-05-01T10:01:00.000Z#c1",
    });
  });

  it("lets a decision through only for the holder, or once the lease is over", () => {
    const subject = { ...storedCandidate("c1"), ...fields };
    const decision = SubmitRequest.parse({ id: "c1", action: "discard" });
    expect(() => planDecision(subject, decision, BO, later(10))).toThrow(
      /leased to ana@example.com \(sub-ana\)/,
    );
    expect(planDecision(subject, decision, ANA, later(10)).leaseGuard).toEqual({
      holder: "sub-ana",
      at: later(10).toISOString(),
    });
    expect(planDecision(subject, decision, BO, later(61)).to).toBe("discarded");
  });

  it("guards decisions, not undos", () => {
    const undo = planUndo(storedCandidate("c1", { status: "discarded" }), BO, T0);
    expect(undo.leaseGuard).toBeNull();
  });

  it("reports a lost write on a candidate someone else took meanwhile as theirs", () => {
    const transition = planDecision(
      storedCandidate("c1"),
      SubmitRequest.parse({ id: "c1", action: "flag" }),
      BO,
      T0,
    );
    expect(staleConflict({ id: "c1", status: "needs_review", ...fields }, transition).message).toMatch(
      /leased to ana@example.com \(sub-ana\)/,
    );
    expect(staleConflict({ id: "c1", status: "discarded", ...fields }, transition).message).toMatch(
      /changed by another reviewer \(current status: discarded\)/,
    );
  });

  it("filters as the queue does", () => {
    const candidate = storedCandidate("c1");
    expect(matchesFilters(candidate, {})).toBe(true);
    expect(
      matchesFilters(candidate, { model: "m1", task_type: "math", run_id: "run-1", source: "benchmark" }),
    ).toBe(true);
    expect(matchesFilters(candidate, { model: "m2" })).toBe(false);
    expect(matchesFilters(candidate, { run_id: "run-2" })).toBe(false);
  });
});

describe("nextCandidate", () => {
  it("gives each reviewer the oldest candidate nobody holds, and moves no counter", async () => {
    const { deps, store } = world();
    const counters = { ...store.counters };

    const first = await nextCandidate(deps, defaults, ANA);
    const second = await nextCandidate(deps, defaults, BO);

    expect(first.candidate?.id).toBe("c0");
    expect(first.lease).toEqual({
      holder: "sub-ana",
      holder_name: "ana@example.com",
      expires_at: "2026-05-01T10:10:00.000Z",
    });
    expect(second.candidate?.id).toBe("c1");
    expect(store.candidates.get("c0")).toMatchObject({
      status: "needs_review",
      version: 1,
      lease_holder: "sub-ana",
    });
    expect(store.counters).toEqual(counters);
  });

  it("applies the queue's filters", async () => {
    const { deps, store } = world(0);
    store.add(storedCandidate("a", { task_type: "code" }), storedCandidate("b", { task_type: "math" }));
    expect((await nextCandidate(deps, NextRequest.parse({ task_type: "math" }), ANA)).candidate?.id).toBe(
      "b",
    );
  });

  it("takes the next candidate when another reviewer wins the race for one", async () => {
    const { deps, leases } = world();
    leases.stolen.add("c0");
    leases.stolen.add("c1");
    expect((await nextCandidate(deps, defaults, ANA)).candidate?.id).toBe("c2");
  });

  it("gives up with a 409 after a bounded number of lost races", async () => {
    const { deps, leases } = world(MAX_CLAIM_ATTEMPTS + 5);
    for (let i = 0; i < MAX_CLAIM_ATTEMPTS + 5; i++) leases.stolen.add(`c${i}`);
    await expect(nextCandidate(deps, defaults, ANA)).rejects.toThrow(ConflictError);
    expect(leases.stolen.size).toBe(5);
  });

  it("passes over the candidates the caller skipped, leaving them for others", async () => {
    const { deps, store } = world(3);
    const skipping = NextRequest.parse({ skip: ["c0", "c1"] });
    expect((await nextCandidate(deps, skipping, ANA)).candidate?.id).toBe("c2");
    expect(store.candidates.get("c0")?.lease_holder).toBeUndefined();
    expect(await nextCandidate(deps, skipping, ANA)).toEqual({ candidate: null, lease: null });
    expect((await nextCandidate(deps, defaults, BO)).candidate?.id).toBe("c0");
    expect(NextRequest.safeParse({ skip: Array.from({ length: 51 }, (_, i) => `c${i}`) }).success).toBe(
      false,
    );
  });

  it("after a lost race tries a random one of the oldest few, not the next in line", async () => {
    const { deps, leases } = world(10);
    leases.stolen.add("c0");
    expect((await nextCandidate({ ...deps, random: () => 0.99 }, defaults, ANA)).candidate?.id).toBe("c9");
  });

  it("answers no candidate once everything is held or decided", async () => {
    const { deps } = world(2);
    await nextCandidate(deps, defaults, ANA);
    await nextCandidate(deps, defaults, ANA);
    expect(await nextCandidate(deps, defaults, BO)).toEqual({ candidate: null, lease: null });
  });

  it("reclaims an expired lease before taking from the queue", async () => {
    const { deps, at, store } = world();
    await nextCandidate(deps, NextRequest.parse({ lease_seconds: 60 }), ANA);
    at(later(61));

    const reclaimed = await nextCandidate(deps, defaults, BO);

    expect(reclaimed.candidate?.id).toBe("c0");
    expect(store.candidates.get("c0")).toMatchObject({
      lease_holder: "sub-bo",
      lease_expires_at: "2026-05-01T10:11:01.000Z",
    });
  });

  it("puts expired leases the filters leave out back into the queue", async () => {
    const { deps, at, store } = world(0);
    store.add(storedCandidate("a", { task_type: "code" }), storedCandidate("b", { task_type: "math" }));
    await nextCandidate(deps, NextRequest.parse({ lease_seconds: 60, task_type: "code" }), ANA);
    at(later(61));

    expect((await nextCandidate(deps, NextRequest.parse({ task_type: "math" }), BO)).candidate?.id).toBe("b");
    expect(store.candidates.get("a")?.lease_holder).toBeUndefined();
    expect((await nextCandidate(deps, defaults, BO)).candidate?.id).toBe("a");
  });
});

describe("releaseLease and decisions on leased candidates", () => {
  it("release puts the candidate back in its place in the queue", async () => {
    const { deps, store } = world();
    await nextCandidate(deps, defaults, ANA);
    await releaseLease(deps, "c0", ANA);
    expect(store.candidates.get("c0")?.lease_holder).toBeUndefined();
    expect((await nextCandidate(deps, defaults, BO)).candidate?.id).toBe("c0");
  });

  it("refuses a release by anyone but the holder, naming the holder", async () => {
    const { deps } = world();
    await nextCandidate(deps, defaults, ANA);
    await expect(releaseLease(deps, "c0", BO)).rejects.toThrow(/leased to ana@example.com \(sub-ana\)/);
    await expect(releaseLease(deps, "c1", BO)).rejects.toThrow(/c1 is not leased to you/);
    await expect(releaseLease(deps, "nope", BO)).rejects.toThrow(NotFoundError);
  });

  it("answers 409 naming the holder to another reviewer's decision; the holder's own goes through and ends the lease", async () => {
    const { deps, review, store } = world();
    await nextCandidate(deps, defaults, ANA);

    await expect(
      submitDecision(review, SubmitRequest.parse({ id: "c0", action: "discard" }), BO),
    ).rejects.toThrow(/leased to ana@example.com \(sub-ana\)/);
    expect(store.candidates.get("c0")?.status).toBe("needs_review");

    await submitDecision(review, SubmitRequest.parse({ id: "c0", action: "discard" }), ANA);
    expect(store.candidates.get("c0")).toMatchObject({ status: "discarded", lease_holder: undefined });
  });
});

describe("POST /api/sft/next and /api/sft/release", () => {
  function app() {
    const { store, leases } = world(2);
    const router = new Router();
    registerErrorResponses(router);
    const counters = { read: async () => store.counters };
    const deps = {
      review: { store },
      queue: { queue: { shards: 4, walk: () => Promise.reject(new Error("not used")) }, counters },
      leases: { leases },
      counters,
      runs: {} as ReviewApiDeps["runs"],
    } as unknown as ReviewApiDeps;
    registerReviewRoutes(router, deps, jwtClaimsAuthenticator());
    const as = (claims: Record<string, string>) => async (method: string, path: string, body?: unknown) => {
      const result = await router.resolve(
        httpEvent(method, path, { claims: { "cognito:groups": "[reviewer]", ...claims }, body }),
        lambdaContext(),
      );
      return { status: result.statusCode, body: JSON.parse(result.body ?? "null") };
    };
    return {
      ana: as({ sub: "sub-ana", email: "ana@example.com" }),
      bo: as({ sub: "sub-bo", email: "bo@example.com" }),
    };
  }

  it("leases through next, 409 names the holder, release gives it back", async () => {
    const { ana, bo } = app();
    const next = await ana("POST", "/api/sft/next", {});
    expect(next.status).toBe(200);
    expect(next.body).toMatchObject({
      candidate: { id: "c0", lease_holder: "sub-ana" },
      lease: { holder: "sub-ana", holder_name: "ana@example.com" },
    });
    const refused = await bo("POST", "/api/sft/submit", { id: "c0", action: "discard" });
    expect(refused.status).toBe(409);
    expect(refused.body.detail).toMatch(/^Candidate c0 is leased to ana@example.com \(sub-ana\) until /);
    expect((await bo("POST", "/api/sft/release", { id: "c0" })).status).toBe(409);
    expect(await ana("POST", "/api/sft/release", { id: "c0" })).toEqual({ status: 200, body: { ok: true } });
    expect((await bo("POST", "/api/sft/next", {})).body.candidate.id).toBe("c0");
  });

  it("answers 422 to a lease time out of bounds", async () => {
    const { ana } = app();
    const reply = await ana("POST", "/api/sft/next", { lease_seconds: 5 });
    expect(reply.status).toBe(422);
    expect(reply.body.detail[0].loc).toEqual(["body", "lease_seconds"]);
  });
});
