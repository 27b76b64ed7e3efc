import { expect, vi } from "vitest";
import type { TestAws } from "./aws.ts";
import { lambdaContext } from "./events.ts";
import { type ApiHandler, callerAs, type HttpReply, type HttpRequest } from "./http-events.ts";
import { uploadRun } from "./review-fixtures.ts";

/**
 * What the review tests that go through the API function share, against the emulators: the
 * function loaded for people signed in through the JWT authorizer (no shared reviewer token),
 * the reviewers who call it, a run imported and a review policy set.
 */

/** A call as one signed-in person, as `callerAs` makes it. */
export type Caller = (method: string, path: string, request?: HttpRequest) => Promise<HttpReply>;

/**
 * The API function as signed-in people call it: `as(sub, group)` makes a caller, and `admin`
 * (`sub-admin`) and the reviewers `ana`, `bo` and `cy` (`sub-ana` …) are made already. `load`,
 * in `beforeAll`, stubs the environment with the test's emulators and imports the handler the
 * calls then use.
 */
export function reviewApi() {
  let handler: ApiHandler | undefined;
  const as = callerAs(() => {
    if (!handler) throw new Error("the API function is not loaded: call load(aws) in beforeAll");
    return handler;
  }, lambdaContext("api"));
  return {
    as,
    admin: as("sub-admin", "admin"),
    ana: as("sub-ana", "reviewer"),
    bo: as("sub-bo", "reviewer"),
    cy: as("sub-cy", "reviewer"),
    async load(aws: TestAws): Promise<void> {
      for (const [name, value] of Object.entries(aws.env)) vi.stubEnv(name, value);
      vi.stubEnv("REVIEWER_TOKEN", "");
      ({ handler } = (await import("../../functions/api.ts")) as { handler: ApiHandler });
    },
  };
}

/** Uploads `lines` as run `runId` and imports it as `admin`. */
export async function importRun(aws: TestAws, admin: Caller, runId: string, lines: string): Promise<void> {
  await uploadRun(aws, runId, lines);
  expect((await admin("POST", "/api/sft/import", { body: { run_id: runId } })).status).toBe(200);
}

/** Sets the review policy's `rules` as `admin`. */
export async function setReviewPolicy(
  admin: Caller,
  rules: readonly Record<string, unknown>[],
): Promise<void> {
  expect((await admin("POST", "/api/sft/review-policy", { body: { rules } })).status).toBe(200);
}

/** The admin recount finds the stored counters equal to its scan. */
export async function countersMatchRecount(admin: Caller): Promise<void> {
  const report = await admin("POST", "/api/admin/recount", { body: {} });
  expect(report.status).toBe(200);
  expect(report.body.differences).toEqual([]);
}
