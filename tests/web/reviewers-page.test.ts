// @vitest-environment happy-dom
import { mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, it, vi } from "vitest";
import { agreementReport } from "../../lib/review/domain/agreement.ts";
import { reviewerNumbers } from "../../lib/review/domain/reviewer-numbers.ts";
import { ApiError, type ReviewApi } from "../../web/src/api.ts";
import ReviewersPage from "../../web/src/pages/ReviewersPage.vue";
import { createReviewSession } from "../../web/src/review-session.ts";
import type { AdjudicationPage } from "../../web/src/reviewers-api.ts";
import { matchRoute, parseHash } from "../../web/src/router.ts";
import { ROUTES } from "../../web/src/routes.ts";
import { fakeApi, settle } from "./fixtures.ts";

let wrapper: VueWrapper | undefined;
afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  document.body.innerHTML = "";
});

const WINDOW = { from: "2026-05-01T00:00:00.000Z", to: "2026-05-02T00:00:00.000Z" };
// The replies are the domain's own computations over a small scripted set.
const NUMBERS = reviewerNumbers(
  [
    {
      action: "correct",
      reviewer: "sub-ana",
      reviewer_name: "ana@example.com",
      at: "2026-05-01T10:05:00.000Z",
      lease_started_at: "2026-05-01T10:04:00.000Z",
      correction_origin: "accepted",
    },
    {
      action: "discard",
      reviewer: "sub-ana",
      at: "2026-05-01T10:10:00.000Z",
      lease_started_at: "2026-05-01T10:09:00.000Z",
    },
    { action: "undo", reviewer: "sub-ana", at: "2026-05-01T10:11:00.000Z" },
    { action: "flag", reviewer: "sub-bo", at: "2026-05-01T11:00:00.000Z" },
  ],
  WINDOW,
);
const AGREEMENT = {
  from: null,
  to: null,
  ...agreementReport([
    {
      candidate_id: "c1",
      round: 0,
      at: WINDOW.from,
      task_type: null,
      source: null,
      agreed: true,
      votes: [
        {
          reviewer: "sub-ana",
          reviewer_name: "ana@example.com",
          action: "discard",
          failure_category: null,
          text_key: null,
        },
        { reviewer: "sub-bo", action: "discard", failure_category: null, text_key: null },
      ],
    },
    {
      candidate_id: "c2",
      round: 0,
      at: WINDOW.from,
      task_type: null,
      source: null,
      agreed: false,
      votes: [
        {
          reviewer: "sub-ana",
          reviewer_name: "ana@example.com",
          action: "flag",
          failure_category: null,
          text_key: null,
        },
        { reviewer: "sub-bo", action: "discard", failure_category: null, text_key: null },
      ],
    },
  ]),
};
const WAITING: AdjudicationPage = {
  items: [
    {
      id: "c2",
      status: "needs_review",
      model_response: "Answer: 41",
      votes_cast: [
        {
          reviewer: "sub-ana",
          reviewer_name: "ana@example.com",
          action: "correct",
          corrected_response: "Answer: 42",
          failure_category: null,
          at: WINDOW.from,
        },
        {
          reviewer: "sub-bo",
          reviewer_name: null,
          action: "discard",
          corrected_response: null,
          failure_category: "wrong_answer",
          at: WINDOW.from,
        },
      ],
    },
  ],
  next_cursor: null,
};

function api(options: { admin: boolean }) {
  let waiting = WAITING;
  const reviewers = {
    numbers: vi.fn(async () => NUMBERS),
    agreement: vi.fn(async () => AGREEMENT),
    policy: vi.fn(async () => ({
      rules: [{ source: "bench", reviews_required: 2 }],
      updated_by: "sub-admin",
      updated_at: WINDOW.from,
    })),
    setPolicy: vi.fn(),
    adjudication: vi.fn(async () => {
      if (!options.admin) throw new ApiError(403, "This route needs the scope flywheel/admin");
      return waiting;
    }),
    adjudicate: vi.fn(async () => {
      waiting = { items: [], next_cursor: null };
      return { ok: true as const };
    }),
  };
  return { reviewers } as unknown as ReviewApi & { reviewers: typeof reviewers };
}

describe("the Reviewers page", () => {
  it("is registered at #/reviewers", () => {
    expect(matchRoute(ROUTES, parseHash("#/reviewers"))?.route.component).toBe(ReviewersPage);
  });

  it("shows each reviewer's numbers, agreement with κ, and the policy", async () => {
    const fake = api({ admin: false });
    wrapper = mount(ReviewersPage, { props: { api: fake }, attachTo: document.body });
    await settle();
    const rows = wrapper
      .findAll("#numbers-heading ~ div tbody tr")
      .map((row) => row.findAll("th, td").map((c) => c.text()));
    expect(rows).toEqual([
      ["ana@example.com", "2", "2.0", "60", "50%", "100%"],
      ["sub-bo", "1", "1.0", "—", "0%", "—"],
    ]);
    const text = wrapper.text();
    expect(text).toContain("2 double reviews: 1 agreed, 0 adjudicated, 1 awaiting adjudication");
    expect(text).toContain(`Agreement 50% of 2 pairs, Cohen's κ ${AGREEMENT.overall.kappa?.toFixed(2)}`);
    expect(text).toContain("ana@example.com and sub-bo");
    expect(text).toContain("source bench: 2 reviews");
    // Anyone but an admin is told why adjudication is not shown.
    expect(text).toContain("Adjudication needs the admin role.");
    // The window is the last 7 days by default; another reloads the numbers.
    const [first] = fake.reviewers.numbers.mock.calls[0] as unknown as [{ from: string; to: string }];
    expect(Date.parse(first.to) - Date.parse(first.from)).toBe(7 * 86_400_000);
    await wrapper.find("#reviewers-window").setValue("1");
    await settle();
    expect(fake.reviewers.numbers).toHaveBeenCalledTimes(2);
  });

  it("lets an admin settle a candidate by taking one reviewer's vote", async () => {
    const fake = api({ admin: true });
    wrapper = mount(ReviewersPage, { props: { api: fake }, attachTo: document.body });
    await settle();
    expect(wrapper.text()).toContain("ana@example.com: correct: “Answer: 42”");
    const take = wrapper.findAll("button").find((b) => b.text() === "Decide as ana@example.com");
    await take?.trigger("click");
    await settle();
    expect(fake.reviewers.adjudicate).toHaveBeenCalledWith("c2", {
      action: "correct",
      corrected_response: "Answer: 42",
      failure_category: null,
    });
    expect(wrapper.text()).toContain("Nothing awaits adjudication.");
  });
});

describe("the policy editor", () => {
  it("is offered to an admin only, and saves the rules with empty fields left out", async () => {
    const reviewer = api({ admin: false });
    wrapper = mount(ReviewersPage, { props: { api: reviewer }, attachTo: document.body });
    await settle();
    expect(wrapper.find("[data-testid='policy-form']").exists()).toBe(false);
    wrapper.unmount();

    const fake = api({ admin: true });
    fake.reviewers.setPolicy.mockImplementation(async (body: { rules: unknown[] }) => ({
      rules: body.rules,
      updated_by: "sub-admin",
      updated_at: WINDOW.to,
    }));
    wrapper = mount(ReviewersPage, { props: { api: fake }, attachTo: document.body });
    await settle();
    const form = wrapper.find("[data-testid='policy-form']");
    expect(form.exists()).toBe(true);
    await wrapper
      .findAll("button")
      .find((b) => b.text() === "Add a rule")
      ?.trigger("click");
    const inputs = form.findAll("fieldset").at(1)?.findAll("input") ?? [];
    await inputs[1]?.setValue(" legal ");
    await inputs[2]?.setValue("3");
    await form.trigger("submit");
    await settle();
    expect(fake.reviewers.setPolicy).toHaveBeenCalledWith({
      rules: [
        { source: "bench", reviews_required: 2 },
        { task_type: "legal", reviews_required: 3 },
      ],
    });
    expect(wrapper.text()).toContain("task type legal: 3 reviews");
    expect(wrapper.text()).toContain("Saved.");
  });
});

describe("a decision that is a vote", () => {
  it("tells the reviewer their vote waits for another reviewer's, or that an admin decides", async () => {
    const { api } = fakeApi([
      { id: "c1", status: "needs_review" },
      { id: "c2", status: "needs_review" },
    ] as never);
    const replies = [{ state: "awaiting_votes" }, { state: "adjudication" }];
    const submit = api.submit;
    api.submit = vi.fn(async (input: Parameters<typeof submit>[0]) => {
      await submit(input);
      return { ok: true as const, review: replies.shift() };
    }) as never;
    const session = createReviewSession(api as unknown as ReviewApi, null);
    await session.load();
    const [first, second] = session.state.items;
    await session.decide(first as never, { action: "discard", category: null });
    expect(session.state.notice?.text).toBe("Discarded c1: your vote waits for another reviewer's");
    await session.decide(second as never, { action: "flag", category: null });
    expect(session.state.notice?.text).toMatch(/^Flagged c2: the reviewers disagree, so an admin decides$/);
  });
});
