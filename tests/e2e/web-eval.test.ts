import { readFile } from "node:fs/promises";
import type { Locator } from "playwright-core";
import { describe, expect, it } from "vitest";
import type { JudgeScores } from "../../lib/eval/domain/rubric.ts";
import { samplePath } from "../../samples/index.ts";
import { expectAccessible } from "../support/axe.ts";
import {
  type ChatRequest,
  EXPERT_SCORES,
  expertOf,
  type FakeJudgeServer,
  startFakeJudgeServer,
} from "../support/fake-judge-server.ts";
import { seen, WAIT_MS, webE2e } from "../support/web-e2e.ts";

/**
 * The eval pages in Chromium against `npm start`'s runtime and a fake OpenAI-compatible judge:
 * the sample chat sessions and their feedback loaded as `flywheel demo` loads them, plus sessions
 * spread over the last weeks for the trend; a run started from the page and followed to its end.
 */

/** Each answer of the fake judge's `slow` model takes this long, so a run is seen going session by session. */
const JUDGE_ANSWER_MS = 500;

interface SampleSession {
  readonly id: string;
  readonly profile_id: string;
  readonly pinned: boolean;
  readonly messages: readonly { role: string; content: string }[];
  readonly feedback: readonly { message_index: number; rating: 1 | -1; comment?: string }[];
  readonly [field: string]: unknown;
}

let judge: FakeJudgeServer;
let samples: SampleSession[];
const DAY = 86_400_000;

/**
 * Sessions for the trend, one or two a week over the last six weeks, of low and high task
 * complexity, each telling the fake judge what to score (`[goal:N]`, `[complexity:N]`).
 */
const trendSessions = Array.from({ length: 8 }, (_, i) => {
  const weeksAgo = 5 - Math.floor(i * 0.75);
  const complex = i % 2 === 1;
  const goal = 50 + i * 5;
  const at = new Date(Date.now() - weeksAgo * 7 * DAY - (i % 3) * DAY).toISOString();
  return {
    id: `trend-${String(i + 1).padStart(2, "0")}`,
    profile_id: complex ? "coding-agent" : "support-bot",
    name: complex ? `Refactor module ${i + 1}` : `Order status ${i + 1}`,
    created_at: at,
    last_active: at,
    messages: [
      {
        role: "user",
        content: `Please help with task ${i + 1}. [goal:${goal}] [complexity:${complex ? 80 : 20}]`,
      },
      { role: "assistant", content: `Done: task ${i + 1} is handled.` },
    ],
  };
});

/** The fake judge's scores: each expert's defaults, moved by the markers of the conversation. */
function scoresFor(request: ChatRequest): JudgeScores {
  const base = EXPERT_SCORES[expertOf(request)] as JudgeScores;
  const conversation = request.messages.find((m) => m.role === "user")?.content ?? "";
  const goal = /\[goal:(\d+)\]/.exec(conversation)?.[1];
  const complexity = /\[complexity:(\d+)\]/.exec(conversation)?.[1];
  const offset = base.goal_completion - 80; // task -0, process -10, communication +10
  return {
    ...base,
    ...(goal ? { goal_completion: Number(goal) + offset, efficiency: Number(goal) - 10 + offset } : {}),
    ...(complexity ? { task_complexity: Number(complexity) } : {}),
  };
}

const web = webE2e({
  name: "flywheel-web-eval",
  before: async () => {
    judge = await startFakeJudgeServer({ scoresFor, slowMs: JUDGE_ANSWER_MS });
    // The runtime's judge function reads these, as a deployment's reads its configuration.
    return { JUDGE_OPENAI_BASE_URL: judge.baseUrl, JUDGE_TIMEOUT_MS: "20000" };
  },
  seed: async () => {
    // What `flywheel demo` loads: the sample sessions, then each rating.
    samples = JSON.parse(await readFile(samplePath("sessions", "sessions.json"), "utf8")) as SampleSession[];
    for (const { feedback, ...session } of samples) {
      expect(
        (await api("/api/eval/sessions", { method: "POST", body: JSON.stringify(session) })).status,
      ).toBe(201);
      for (const rating of feedback) {
        const reply = await api("/api/eval/feedback", {
          method: "POST",
          body: JSON.stringify({ session_id: session.id, ...rating }),
        });
        expect(reply.status).toBe(201);
      }
    }
    for (const session of trendSessions) {
      expect(
        (await api("/api/eval/sessions", { method: "POST", body: JSON.stringify(session) })).status,
      ).toBe(201);
    }
  },
  after: async () => {
    await judge?.close();
  },
});
const { api } = web;
/** A screenshot of the window as a reader at this height sees it (the totals bar stays at its foot). */
const snap = (name: string, height: number) => web.screenshot(name, { height });

describe("the eval pages in Chromium", () => {
  const total = () => samples.length + trendSessions.length;

  it("lists the sessions pinned first, with their likes and dislikes, none evaluated yet", async () => {
    await web.open();
    await web.page.getByRole("link", { name: "Eval", exact: true }).click();
    const rows = web.page.locator("[data-session]");
    await expect.poll(() => rows.count(), { timeout: WAIT_MS }).toBe(total());
    expect(await rows.first().getAttribute("data-session")).toBe("sess-002");
    expect(await seen(rows.first().getByTestId("pinned"))).toContain("Pinned");
    const refund = web.page.locator('[data-session="sess-001"]');
    expect(await seen(refund.getByTestId("likes"))).toBe("0");
    expect(await seen(refund.getByTestId("dislikes"))).toBe("2");
    expect(await seen(web.page.locator('[data-session="sess-002"]').getByTestId("likes"))).toBe("1");
    expect(
      await web.page
        .locator("[data-status]")
        .evaluateAll((els) => els.map((el) => el.getAttribute("data-status"))),
    ).toEqual(Array(total()).fill("pending"));
    await expectAccessible(web.page, "sessions overview");
  });

  it("filters by profile and status, keeping the filters in the URL", async () => {
    await web.page.getByTestId("filter-profile").selectOption("coding-agent");
    await expect.poll(() => web.hash()).toBe("#/eval?profile=coding-agent");
    const rows = web.page.locator("[data-session]");
    await expect
      .poll(async () =>
        (await rows.evaluateAll((els) => els.map((el) => el.getAttribute("data-session")))).sort(),
      )
      .toEqual(
        ["sess-003", ...trendSessions.filter((s) => s.profile_id === "coding-agent").map((s) => s.id)].sort(),
      );

    await web.page.getByTestId("filter-status").selectOption("evaluated");
    await web.page.getByTestId("no-sessions").waitFor();
    await web.page.reload();
    await web.page.getByTestId("no-sessions").waitFor();
    expect(await web.page.getByTestId("filter-status").inputValue()).toBe("evaluated");
    expect(await web.page.getByTestId("filter-profile").inputValue()).toBe("coding-agent");
  });

  it("shows a session's transcript with each message's feedback and makes a disliked answer a review candidate", async () => {
    await web.open("#/eval/sessions/sess-001");
    const transcript = web.page.getByTestId("transcript");
    await transcript.waitFor();
    expect(await seen(web.page.locator("#session-title"))).toBe("Refund question");
    const answer = web.page.locator('[data-testid="transcript"] > li[data-index="1"]');
    expect(await seen(answer.getByTestId("message-feedback"))).toBe("0 likes, 1 dislike");
    expect(await seen(answer)).toContain("refused a task it can do");
    expect(await web.page.getByTestId("no-evaluations").isVisible()).toBe(true);

    await answer.getByRole("button", { name: "Make this answer a review candidate" }).click();
    await expect
      .poll(() => seen(answer.getByTestId("candidate-outcome")))
      .toMatch(/^Now in the review queue as /);
    const id = (await seen(answer.locator('[data-testid="candidate-outcome"] .mono'))).trim();
    const stored = await api<{ candidate: Record<string, unknown> }>(
      `/api/sft/candidates/${encodeURIComponent(id)}`,
    );
    expect(stored.status).toBe(200);
    expect(stored.body.candidate).toMatchObject({
      status: "needs_review",
      model_response: "I can't help with billing.",
      failure_reason: "disliked: refused a task it can do",
      provenance: { source: "eval", source_session_id: "sess-001", message_index: 1 },
    });
    // Asking again finds the same candidate.
    await answer.getByRole("button", { name: "Make this answer a review candidate" }).click();
    await expect
      .poll(() => seen(answer.getByTestId("candidate-outcome")))
      .toBe(`Already in the review queue as ${id}`);
    expect(await web.page.locator('li[data-index="0"] [data-testid="make-candidate"]').count()).toBe(0);
    await expectAccessible(web.page, "session page");
  });

  it("starts a judge run against the judge and watches it finish session by session", async () => {
    await web.open("#/eval/runs");
    await web.page.getByTestId("start-run").waitFor();
    await expectAccessible(web.page, "judge runs page");
    await web.page.getByTestId("run-model").fill("slow");
    await web.page.getByTestId("run-start").click();
    await expect.poll(() => web.hash()).toMatch(/^#\/eval\/runs\/[\w-]+$/);
    await web.page.getByTestId("run-sessions").waitFor();

    // Read the page as it changes: the settled count climbs one session at a time, not all at once.
    const judged: number[] = [];
    const deadline = Date.now() + 90_000;
    for (;;) {
      const states = await web.page
        .locator("[data-state]")
        .evaluateAll((els) => els.map((el) => el.getAttribute("data-state")));
      judged.push(states.filter((state) => state === "done").length);
      if ((await seen(web.page.getByTestId("run-status"))) === "Completed") break;
      if (Date.now() > deadline)
        throw new Error(`the run did not finish: ${judged.join(",")}\n${web.logs.slice(-40).join("\n")}`);
      await web.page.waitForTimeout(200);
    }
    expect(judged.at(-1)).toBe(total());
    expect(judged.some((n) => n > 0 && n < total())).toBe(true);
    expect(judged).toEqual([...judged].sort((a, b) => a - b));
    expect(await seen(web.page.getByTestId("run-progress"))).toBe(`${total()} of ${total()} judged.`);
    const goal = await web.page.locator('[data-session="trend-08"] td').nth(1).innerText();
    expect(goal).toBe("85"); // (85 + 75 + 95) / 3
    await expectAccessible(web.page, "judge run page");
    await snap("eval-run.png", 900);
    // Every expert of every session answered the judge.
    expect(judge.requests.filter((r) => r.model === "slow")).toHaveLength(total() * 3);
  });

  it("shows each expert's scores and comment on the session's page", async () => {
    await web.open("#/eval/sessions/sess-001");
    const evaluation = web.page.getByTestId("evaluation");
    await evaluation.first().waitFor();
    expect(await evaluation.count()).toBe(1);
    const goal = await web.page.locator('[data-axis="goal_completion"] td').allInnerTexts();
    expect(goal).toEqual(["80", "80", "70", "90"]); // the mean, then task, process and communication
    const comments = await web.page.getByTestId("expert-comment").allInnerTexts();
    expect(comments).toHaveLength(3);
    expect(comments.join("\n")).toContain("task_analyst read the conversation.");
    expect(await web.page.locator("[data-status]").first().getAttribute("data-status")).toBe("evaluated");
    await web.page
      .locator('[data-testid="transcript"] > li[data-index="1"] [data-testid="make-candidate"]')
      .click();
    await web.page.locator('li[data-index="1"] [data-testid="candidate-outcome"] .mono').waitFor();
    await expectAccessible(web.page, "session page, evaluated");
    await snap("eval-session.png", 1700);
  });

  it("shows the latest scores in the overview once judged", async () => {
    await web.open("#/eval");
    const refund = web.page.locator('[data-session="sess-001"]');
    await refund.waitFor();
    expect(await refund.locator('[data-axis="goal_completion"]').innerText()).toBe("80");
    expect(
      await web.page
        .locator("[data-status]")
        .evaluateAll((els) => els.map((el) => el.getAttribute("data-status"))),
    ).toEqual(Array(total()).fill("evaluated"));
    await expectAccessible(web.page, "sessions overview, evaluated");
    await snap("eval-sessions.png", 1150);
  });

  it("draws the weekly trend per axis, overall and by complexity bucket", async () => {
    await web.page.getByRole("link", { name: "Weekly trend" }).click();
    const overall = web.page.getByTestId("trend-overall");
    await overall.locator("canvas").waitFor();
    const stats = await api<{ weeks: { week_start: string; sessions: number }[] }>(
      "/api/eval/stats?days=90&by_complexity_bucket=true",
    );
    const weeks = stats.body.weeks.map((week) => `Week of ${week.week_start}`);
    expect(weeks.length).toBeGreaterThanOrEqual(4);
    // The numbers under the chart are the API's weeks; the canvas is named by them.
    expect(await overall.locator("tbody th").allTextContents()).toEqual(weeks);
    expect(await overall.locator("canvas").getAttribute("aria-label")).toContain("Goal completion:");
    // A canvas with something drawn on it, once Chart.js has loaded (a blank one encodes small).
    const drawnBytes = (canvas: Locator) =>
      canvas.evaluate((element) => (element as unknown as { toDataURL(): string }).toDataURL().length);
    const blank = await web.page.evaluate(
      "(() => { const c = document.createElement('canvas'); c.width = 1000; c.height = 260; return c.toDataURL().length; })()",
    );
    await expect.poll(() => drawnBytes(overall.locator("canvas"))).toBeGreaterThan((blank as number) * 5);

    const bucket = web.page.getByTestId("trend-bucket");
    await bucket.getByLabel("Complexity 76+").check();
    await expect.poll(() => web.hash()).toContain("bucket=76%2B");
    await bucket.locator("canvas").waitFor();
    const complexWeeks = new Set(
      trendSessions
        .filter((s) => s.profile_id === "coding-agent")
        .map((s) => {
          const date = new Date(s.last_active);
          const monday = new Date(
            Date.UTC(
              date.getUTCFullYear(),
              date.getUTCMonth(),
              date.getUTCDate() - ((date.getUTCDay() + 6) % 7),
            ),
          );
          return `Week of ${monday.toISOString().slice(0, 10)}`;
        }),
    );
    expect(await bucket.locator("tbody th").allTextContents()).toEqual([...complexWeeks].sort());
    await expectAccessible(web.page, "trend page");
    await snap("eval-trend.png", 1400);
  });

  it("fits a narrow window (200% zoom of a 1280 px screen): only the sessions table scrolls sideways", async () => {
    await web.page.setViewportSize({ width: 640, height: 450 });
    await web.open("#/eval");
    await web.page.locator('[data-session="sess-001"]').waitFor();
    const overflow = await web.page.locator("html").evaluate((html) => html.scrollWidth - html.clientWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await web.page.getByRole("link", { name: "Refund question" }).click();
    await web.page.getByTestId("transcript").waitFor();
    expect(
      await web.page.locator("html").evaluate((html) => html.scrollWidth - html.clientWidth),
    ).toBeLessThanOrEqual(0);
    await web.page.setViewportSize({ width: 1280, height: 900 });
  });

  it("never left this machine and raised no page error", () => {
    web.expectStayedLocal();
  });
});
