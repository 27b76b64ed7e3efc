// @vitest-environment happy-dom
import { mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../../web/src/api.ts";
import EvalPage from "../../web/src/pages/EvalPage.vue";
import EvalRunPage from "../../web/src/pages/EvalRunPage.vue";
import EvalRunsPage from "../../web/src/pages/EvalRunsPage.vue";
import EvalSessionPage from "../../web/src/pages/EvalSessionPage.vue";
import EvalTrendPage from "../../web/src/pages/EvalTrendPage.vue";
import { matchRoute, parseHash } from "../../web/src/router.ts";
import { ROUTES } from "../../web/src/routes.ts";
import { detail, evaluation, fakeEvalApi, row, run, scores } from "./eval-fixtures.ts";
import { settle } from "./fixtures.ts";

let wrapper: VueWrapper | undefined;

afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  document.body.innerHTML = "";
  window.location.hash = "";
});

const text = (selector: string) => wrapper?.get(selector).text().replace(/\s+/g, " ").trim();

describe("the sessions overview", () => {
  const page = {
    sessions: [
      row("sess-002", {
        pinned: true,
        likes: 1,
        dislikes: 0,
        status: "evaluated",
        latest_evaluation: {
          ...evaluation,
          scores: scores(73.333),
        },
      }),
      row("sess-001", {
        profile_id: "coding-agent",
        last_failure: { run_id: "r", at: "x", error: "timeout" },
      }),
    ],
    limit: 25,
    offset: 0,
    has_more: true,
    judge_version: "judge-1",
    rubric_version: "rubric-2",
  };

  it("lists sessions as the API orders them, with status, pin, likes, dislikes and latest scores", async () => {
    const fake = fakeEvalApi({ sessions: page, profiles: { profiles: [{ id: "billing" }] } });
    wrapper = mount(EvalPage, { attachTo: document.body, props: { api: fake.api, query: {} } });
    await settle();
    expect(fake.eval.sessions).toHaveBeenCalledWith(
      { limit: 25, offset: 0, profile: null, status: null },
      expect.any(AbortSignal),
    );
    const rows = wrapper.findAll("[data-session]");
    expect(rows.map((r) => r.attributes("data-session"))).toEqual(["sess-002", "sess-001"]);
    expect(rows[0]?.find('[data-testid="pinned"]').exists()).toBe(true);
    expect(rows[1]?.find('[data-testid="pinned"]').exists()).toBe(false);
    expect(rows[0]?.get("[data-status]").text()).toBe("Evaluated");
    expect(rows[0]?.get('[data-axis="goal_completion"]').text()).toBe("73.3");
    expect(rows[1]?.get('[data-axis="goal_completion"]').text()).toBe("—");
    expect(rows[0]?.get('[data-testid="likes"]').text()).toBe("1");
    expect(rows[1]?.get('[data-testid="dislikes"]').text()).toBe("2");
    expect(rows[1]?.text()).toContain("last judging failed");
    expect(rows[0]?.get("a").attributes("href")).toBe("#/eval/sessions/sess-002");
    // The profile filter offers the registry's profiles and those on screen.
    const options = wrapper
      .findAll('[data-testid="filter-profile"] option')
      .map((o) => o.attributes("value"));
    expect(options).toEqual(["", "billing", "coding-agent", "support-bot"]);
    expect(text('[data-testid="range"]')).toBe("Sessions 1–2");
  });

  it("keeps filters and the page in the URL and asks the API for them", async () => {
    const fake = fakeEvalApi({ sessions: page });
    wrapper = mount(EvalPage, {
      attachTo: document.body,
      props: { api: fake.api, query: { profile: "support-bot", status: "stale", offset: "25" } },
    });
    await settle();
    expect(fake.eval.sessions).toHaveBeenLastCalledWith(
      { limit: 25, offset: 25, profile: "support-bot", status: "stale" },
      expect.any(AbortSignal),
    );
    const status = wrapper.get('[data-testid="filter-status"]');
    (status.element as HTMLSelectElement).value = "pending";
    await status.trigger("change");
    // A filter starts again at the first page.
    expect(window.location.hash).toBe("#/eval?profile=support-bot&status=pending");

    await wrapper.setProps({ query: { profile: "support-bot", status: "pending" } });
    await settle();
    expect(fake.eval.sessions).toHaveBeenLastCalledWith(
      { limit: 25, offset: 0, profile: "support-bot", status: "pending" },
      expect.any(AbortSignal),
    );
    const next = wrapper.findAll(".pager button").find((b) => b.text() === "Next page");
    await next?.trigger("click");
    expect(window.location.hash).toBe("#/eval?offset=25&profile=support-bot&status=pending");
  });

  it("ignores a status the API does not know, and says when nothing matches", async () => {
    const fake = fakeEvalApi();
    wrapper = mount(EvalPage, {
      attachTo: document.body,
      props: { api: fake.api, query: { status: "bogus" } },
    });
    await settle();
    expect(fake.eval.sessions).toHaveBeenCalledWith(
      { limit: 25, offset: 0, profile: null, status: null },
      expect.any(AbortSignal),
    );
    expect(text('[data-testid="no-sessions"]')).toContain("No chat sessions yet");
  });

  it("shows why the overview could not load, with a retry", async () => {
    const fake = fakeEvalApi({ sessions: new ApiError(403, "Forbidden: eval.read scope required") });
    wrapper = mount(EvalPage, { attachTo: document.body, props: { api: fake.api, query: {} } });
    await settle();
    expect(text('[role="alert"]')).toContain("eval.read scope required");
  });
});

describe("a session's page", () => {
  it("shows the transcript with each message's feedback and every expert's scores and comment", async () => {
    const fake = fakeEvalApi();
    wrapper = mount(EvalSessionPage, { attachTo: document.body, props: { api: fake.api, id: "sess-001" } });
    await settle();
    expect(fake.eval.session).toHaveBeenCalledWith("sess-001");
    expect(text("#session-title")).toBe("Refund question");
    const turns = wrapper.findAll('[data-testid="transcript"] > li');
    expect(turns).toHaveLength(4);
    expect(turns[1]?.get('[data-testid="message-feedback"]').text().replace(/\s+/g, " ")).toBe(
      "0 likes, 1 dislike",
    );
    expect(turns[1]?.text()).toContain("Disliked by user-17 (via chat-product): “refused a task it can do”");
    expect(turns[0]?.find('[data-testid="make-candidate"]').exists()).toBe(false);
    expect(turns[1]?.find('[data-testid="make-candidate"]').exists()).toBe(true);

    const evaluations = wrapper.findAll('[data-testid="evaluation"]');
    expect(evaluations).toHaveLength(1);
    const headers = evaluations[0]?.findAll("thead th").map((th) => th.text());
    expect(headers).toEqual(["Axis", "Mean", "task analyst", "communication reviewer"]);
    const goal = evaluations[0]
      ?.get('[data-axis="goal_completion"]')
      .findAll("td")
      .map((td) => td.text());
    expect(goal).toEqual(["80", "70", "90"]);
    // An axis one expert scored is shown, with a dash where the others did not.
    const selfExtension = evaluations[0]
      ?.get('[data-axis="self_extension"]')
      .findAll("td")
      .map((td) => td.text());
    expect(selfExtension).toEqual(["—", "—", "50"]);
    expect(evaluations[0]?.findAll('[data-testid="expert-comment"]').map((c) => c.text())).toEqual([
      "task analystThe task was simple and refused.",
      "communication reviewerPolite but unhelpful.",
    ]);
  });

  it("makes an answer a review candidate and says whether it was already one", async () => {
    let created = true;
    const fake = fakeEvalApi({
      makeCandidate: () => {
        const reply = { id: "eval-1a2b", status: "needs_review", created };
        created = false;
        return reply;
      },
    });
    wrapper = mount(EvalSessionPage, { attachTo: document.body, props: { api: fake.api, id: "sess-001" } });
    await settle();
    const answer = wrapper.get('[data-index="3"]');
    await answer.get('[data-testid="make-candidate"]').trigger("click");
    await settle();
    expect(fake.eval.makeCandidate).toHaveBeenCalledWith("sess-001", 3);
    expect(answer.get('[data-testid="candidate-outcome"]').text()).toBe(
      "Now in the review queue as eval-1a2b",
    );
    await answer.get('[data-testid="make-candidate"]').trigger("click");
    await settle();
    expect(answer.get('[data-testid="candidate-outcome"]').text()).toBe(
      "Already in the review queue as eval-1a2b",
    );
  });

  it("shows the API's refusal of a candidate next to the answer", async () => {
    const fake = fakeEvalApi({
      makeCandidate: new ApiError(
        422,
        "The conversation up to this message is too large to become a candidate",
      ),
    });
    wrapper = mount(EvalSessionPage, { attachTo: document.body, props: { api: fake.api, id: "sess-001" } });
    await settle();
    await wrapper.get('[data-index="1"] [data-testid="make-candidate"]').trigger("click");
    await settle();
    expect(wrapper.get('[data-index="1"] [data-testid="candidate-outcome"]').text()).toContain("too large");
  });

  it("starts a run of this session and opens it", async () => {
    const fake = fakeEvalApi({ startRun: run({ id: "run-9", run_id: "run-9" }) });
    wrapper = mount(EvalSessionPage, { attachTo: document.body, props: { api: fake.api, id: "sess-001" } });
    await settle();
    await wrapper.get('[data-testid="judge-session"]').trigger("click");
    await settle();
    expect(fake.eval.startRun).toHaveBeenCalledWith({ scope: "session", session_id: "sess-001" });
    expect(window.location.hash).toBe("#/eval/runs/run-9");
  });

  it("says when there is no such session", async () => {
    const fake = fakeEvalApi({ session: new ApiError(404, "Session nope not found") });
    wrapper = mount(EvalSessionPage, { attachTo: document.body, props: { api: fake.api, id: "nope" } });
    await settle();
    expect(text('[role="alert"]')).toBe("No session nope.");
    expect(wrapper.find('[data-testid="transcript"]').exists()).toBe(false);
    expect(detail().messages).toHaveLength(4);
  });
});

describe("judge runs", () => {
  it("starts a run with what the form says, leaving empty fields to the deployment's defaults", async () => {
    const fake = fakeEvalApi({ startRun: run({ id: "run-7" }) });
    wrapper = mount(EvalRunsPage, { attachTo: document.body, props: { api: fake.api, query: {} } });
    await settle();
    await wrapper.get('[data-testid="run-model"]').setValue("good");
    await wrapper.get('[data-testid="run-since"]').setValue("2026-10-01");
    await wrapper.get('[data-testid="run-candidates"]').setValue(true);
    await wrapper.get('[data-testid="start-run"]').trigger("submit");
    await settle();
    expect(fake.eval.startRun).toHaveBeenCalledWith({
      scope: "unevaluated",
      since: "2026-10-01T00:00:00.000Z",
      limit: 500,
      model: "good",
      candidates_from_dislikes: true,
    });
    expect(window.location.hash).toBe("#/eval/runs/run-7");
  });

  it("asks for a session id when one session is to be judged, and shows a refusal", async () => {
    const fake = fakeEvalApi({
      startRun: new ApiError(503, "Judge runs are not configured on this deployment"),
    });
    wrapper = mount(EvalRunsPage, { attachTo: document.body, props: { api: fake.api, query: {} } });
    await settle();
    await wrapper.get('input[value="session"]').setValue(true);
    expect(wrapper.get('[data-testid="run-start"]').attributes("disabled")).toBeDefined();
    await wrapper.get('[data-testid="run-session"]').setValue("sess-003");
    await wrapper.get('[data-testid="run-backend"]').setValue("ollama");
    await wrapper.get('[data-testid="start-run"]').trigger("submit");
    await settle();
    expect(fake.eval.startRun).toHaveBeenCalledWith({
      scope: "session",
      session_id: "sess-003",
      backend: "ollama",
      candidates_from_dislikes: false,
    });
    expect(text('[data-testid="run-error"]')).toContain("not configured");
  });

  it("follows a run session by session until it is completed", async () => {
    const readings = [
      run({
        sessions: [
          { session_id: "sess-001", status: "running", state: "running", avg: null, error: null },
          { session_id: "sess-002", status: "pending", state: "pending", avg: null, error: null },
        ],
        counts: { pending: 1, running: 1, done: 0, failed: 0 },
      }),
      run({
        status: "completed",
        done: 1,
        failed: 1,
        completed_at: "2026-10-06T10:01:00.000Z",
        counts: { pending: 0, running: 0, done: 1, failed: 1 },
        sessions: [
          { session_id: "sess-001", status: "done", state: "ok", avg: null, error: null, scores: scores(80) },
          { session_id: "sess-002", status: "failed", state: "failed", avg: null, error: "judge timed out" },
        ],
      }),
    ];
    const fake = fakeEvalApi({ run: () => readings.shift() ?? readings.at(-1) });
    wrapper = mount(EvalRunPage, {
      attachTo: document.body,
      props: { api: fake.api, id: "run-1", pollMs: 80 },
    });
    await settle();
    expect(text('[data-testid="run-progress"]')).toBe("0 of 2 judged, 1 in progress, 1 waiting…");
    expect(wrapper.findAll("[data-state]").map((r) => r.attributes("data-state"))).toEqual([
      "running",
      "pending",
    ]);
    expect(text('[data-testid="run-status"]')).toBe("Running");
    await new Promise((done) => setTimeout(done, 150));
    await settle();
    expect(text('[data-testid="run-status"]')).toBe("Completed");
    expect(text('[data-testid="run-progress"]')).toBe("1 of 2 judged, 1 failed.");
    const rows = wrapper.findAll("[data-state]");
    expect(rows.map((r) => r.attributes("data-state"))).toEqual(["done", "failed"]);
    expect(rows[0]?.findAll("td")[1]?.text()).toBe("80");
    expect(rows[1]?.text()).toContain("judge timed out");
    // A run that makes no candidates has no column for them.
    expect(wrapper.findAll("thead th").map((th) => th.text())).not.toContain("Candidates made");
    const calls = fake.eval.run.mock.calls.length;
    await new Promise((done) => setTimeout(done, 200));
    expect(fake.eval.run).toHaveBeenCalledTimes(calls);
  });
});

describe("the weekly trend", () => {
  it("shows the overall and the bucket's weekly means, their numbers in a table", async () => {
    const fake = fakeEvalApi();
    wrapper = mount(EvalTrendPage, { attachTo: document.body, props: { api: fake.api, query: {} } });
    await settle();
    expect(fake.eval.stats).toHaveBeenCalledWith(
      { days: 90, byComplexityBucket: true },
      expect.any(AbortSignal),
    );
    const overall = wrapper.get('[data-testid="trend-overall"]');
    expect(overall.text()).toContain("3 sessions over 2 weeks");
    const labels = overall.findAll("tbody th").map((th) => th.text());
    expect(labels).toEqual(["Week of 2026-09-28", "Week of 2026-10-05"]);
    const goalColumn = overall.findAll("thead th").findIndex((th) => th.text() === "Goal completion");
    expect(overall.findAll("tbody tr").map((tr) => tr.findAll("th, td")[goalColumn]?.text())).toEqual([
      "60",
      "80",
    ]);

    // The first bucket with sessions is shown until another is chosen.
    const bucket = wrapper.get('[data-testid="trend-bucket"]');
    expect((bucket.get('input[value="0-25"]').element as HTMLInputElement).checked).toBe(true);
    expect(bucket.findAll("tbody th").map((th) => th.text())).toEqual(["Week of 2026-09-28"]);
    await bucket.get('input[value="26-50"]').trigger("change");
    expect(window.location.hash).toBe("#/eval/trend?bucket=26-50&days=90");
    await wrapper.setProps({ query: { bucket: "26-50", days: "90" } });
    expect(
      wrapper
        .get('[data-testid="trend-bucket"]')
        .findAll("tbody th")
        .map((th) => th.text()),
    ).toEqual(["Week of 2026-10-05"]);
    await wrapper.setProps({ query: { bucket: "76+" } });
    expect(wrapper.find('[data-testid="empty-bucket"]').exists()).toBe(true);
  });

  it("asks again for another period", async () => {
    const fake = fakeEvalApi();
    wrapper = mount(EvalTrendPage, {
      attachTo: document.body,
      props: { api: fake.api, query: { days: "365" } },
    });
    await settle();
    expect(fake.eval.stats).toHaveBeenLastCalledWith(
      { days: 365, byComplexityBucket: true },
      expect.any(AbortSignal),
    );
    await wrapper.setProps({ query: { days: "30" } });
    await settle();
    expect(fake.eval.stats).toHaveBeenLastCalledWith(
      { days: 30, byComplexityBucket: true },
      expect.any(AbortSignal),
    );
  });
});

describe("the eval routes", () => {
  it("open each eval page from its hash, with the session or run named in the path", () => {
    const at = (hash: string) => {
      const found = matchRoute(ROUTES, parseHash(hash));
      return (
        found && { component: found.route.component, params: found.params, section: found.route.section }
      );
    };
    expect(at("#/eval?status=stale")).toMatchObject({ component: EvalPage, section: "eval" });
    expect(at("#/eval/sessions/a%2Fb")).toMatchObject({ component: EvalSessionPage, params: { id: "a/b" } });
    expect(at("#/eval/runs")).toMatchObject({ component: EvalRunsPage });
    expect(at("#/eval/runs/r-1")).toMatchObject({ component: EvalRunPage, params: { id: "r-1" } });
    expect(at("#/eval/trend?bucket=76%2B")).toMatchObject({ component: EvalTrendPage });
  });
});

describe("a run that makes candidates from dislikes", () => {
  it("shows how many each session made", async () => {
    const fake = fakeEvalApi({
      run: run({
        candidates_from_dislikes: true,
        status: "completed",
        done: 2,
        counts: { pending: 0, running: 0, done: 2, failed: 0 },
        sessions: [
          {
            session_id: "sess-001",
            status: "done",
            state: "ok",
            avg: null,
            error: null,
            candidates_created: 2,
          },
          {
            session_id: "sess-002",
            status: "done",
            state: "ok",
            avg: null,
            error: null,
            candidates_created: null,
          },
        ],
      }),
    });
    wrapper = mount(EvalRunPage, { attachTo: document.body, props: { api: fake.api, id: "run-1" } });
    await settle();
    const column = wrapper.findAll("thead th").findIndex((th) => th.text() === "Candidates made");
    expect(column).toBeGreaterThan(0);
    expect(wrapper.findAll("tbody tr").map((tr) => tr.findAll("th, td")[column]?.text())).toEqual(["2", "0"]);
  });
});
