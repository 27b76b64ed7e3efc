import { describe, expect, it } from "vitest";
import { expectAccessible } from "../support/axe.ts";
import { webE2e } from "../support/web-e2e.ts";

/**
 * Double review driven against `npm start`'s runtime: the operator (an admin) sets a policy of two
 * reviews, the operator and the local admin role vote on two candidates (agreeing on one,
 * disagreeing on the other) through the API, and the Reviewers page in headless Chromium shows
 * their numbers and agreement, passes axe-core, and settles the disagreement by one vote.
 */

const RUN = "2026-05-03-090000-double";
const SOURCE = "e2e-double";

const LINES = [1, 2, 3].map((i) =>
  JSON.stringify({
    id: `${RUN}-${i}`,
    source: SOURCE,
    benchmark_run_id: RUN,
    task_type: "arithmetic",
    model_name: "Qwen2.5-3B",
    prompt_messages: [{ role: "user", content: `What is ${i} + ${i}?` }],
    model_response: `${i * 3}`,
  }),
);

const web = webE2e({
  name: "flywheel-web-reviewers",
  seed: async () => {
    await web.putRun(RUN, LINES.join("\n"));
    const operator = web.runtime.config.reviewerToken;
    // The operator is `local-reviewer`, as is the reviewer role; the admin role is another person, `local-admin`.
    const reviewer = web.runtime.config.roleTokens?.admin as string;
    expect((await call(operator, "POST", "/api/sft/import", { run_id: RUN })).status).toBe(200);
    expect(
      (
        await call(operator, "POST", "/api/sft/review-policy", {
          rules: [{ source: SOURCE, reviews_required: 2 }],
        })
      ).status,
    ).toBe(200);
    // Agree on the first candidate, disagree on the second.
    for (const [id, mine, theirs] of [
      [`${RUN}-1`, { action: "discard" }, { action: "discard" }],
      [`${RUN}-2`, { action: "correct", corrected_response: "4" }, { action: "flag" }],
    ] as const) {
      expect((await call(operator, "POST", "/api/sft/submit", { id, ...mine })).status).toBe(200);
      expect((await call(reviewer, "POST", "/api/sft/submit", { id, ...theirs })).status).toBe(200);
    }
  },
});
const { call } = web;

describe("the Reviewers page in Chromium", () => {
  it("shows numbers and agreement, passes axe-core, and settles an adjudication by one reviewer's vote", async () => {
    await web.open("#/reviewers");
    const agreement = web.page.locator("section[aria-labelledby='agreement-heading']");
    await agreement.getByText("2 double reviews").waitFor();
    expect(await agreement.innerText()).toMatch(/1 agreed, 0 adjudicated, 1 awaiting adjudication/);
    expect(await agreement.innerText()).toMatch(/Agreement 50% of 2 pairs/);
    const rows = web.page.locator("section[aria-labelledby='numbers-heading'] tbody tr");
    expect(await rows.count()).toBe(2);
    const decide = web.page.getByRole("button", { name: /^Decide as / }).first();
    await decide.waitFor();
    await expectAccessible(web.page, "the reviewers page");

    await web.screenshot("reviewers.png", { height: "page" });

    await decide.click();
    await web.page.getByText("Nothing awaits adjudication.").waitFor();
    const settled = await call<{ candidate: { status: string }; history: { settled_by?: string }[] }>(
      web.runtime.config.reviewerToken,
      "GET",
      `/api/sft/candidates/${RUN}-2`,
    );
    expect(settled.body.candidate.status).toBe("approved");
    expect(settled.body.history.at(-1)).toMatchObject({ settled_by: "adjudication" });
  }, 120_000);
});
