import { afterEach, describe, expect, it, vi } from "vitest";
import { COMPLEXITY_BUCKETS } from "../../lib/eval/domain/eval-stats.ts";
import { AXES as RUBRIC_AXES } from "../../lib/eval/domain/rubric.ts";
import { ApiError, createApi } from "../../web/src/api.ts";
import {
  AXES,
  BUCKETS,
  formatScore,
  raterOf,
  runProgressText,
  scoredAxes,
  transcriptOf,
  trendOf,
  watchRun,
} from "../../web/src/eval-view.ts";
import { detail, run, scores, stats } from "./eval-fixtures.ts";

afterEach(() => vi.useRealTimers());

describe("the eval client", () => {
  function client(reply: unknown = {}, status = 200) {
    const calls: { url: string; method: string; body: unknown; auth: string | null }[] = [];
    const api = createApi({
      baseUrl: "https://api.example",
      token: async () => "t0k",
      fetch: async (input, init) => {
        const headers = new Headers(init?.headers);
        calls.push({
          url: String(input),
          method: init?.method ?? "GET",
          body: init?.body ? JSON.parse(String(init.body)) : undefined,
          auth: headers.get("authorization"),
        });
        return new Response(JSON.stringify(reply), { status });
      },
    });
    return { api, calls };
  }

  it("reads the paged v2 overview with only the filters given", async () => {
    const { api, calls } = client({ sessions: [] });
    await api.eval.sessions({ limit: 25, offset: 50, profile: "support bot", status: "stale" });
    await api.eval.sessions({ limit: 25, offset: 0, profile: null, status: null });
    expect(calls.map((c) => c.url)).toEqual([
      "https://api.example/api/v2/eval/sessions?limit=25&offset=50&profile=support+bot&status=stale",
      "https://api.example/api/v2/eval/sessions?limit=25&offset=0",
    ]);
    expect(calls[0]?.auth).toBe("Bearer t0k");
  });

  it("names the session, the message, the run and the stats' options in its requests", async () => {
    const { api, calls } = client({});
    await api.eval.session("a/b c");
    await api.eval.makeCandidate("a/b c", 3);
    await api.eval.startRun({ scope: "session", session_id: "a/b c" });
    await api.eval.run("r 1");
    await api.eval.runs(5);
    await api.eval.stats({ days: 90, byComplexityBucket: true });
    await api.eval.stats({ days: 30 });
    expect(calls.map((c) => `${c.method} ${c.url.replace("https://api.example", "")}`)).toEqual([
      "GET /api/eval/sessions/a%2Fb%20c",
      "POST /api/eval/sessions/a%2Fb%20c/candidates",
      "POST /api/eval/run",
      "GET /api/eval/run/r%201",
      "GET /api/eval/runs?limit=5",
      "GET /api/eval/stats?days=90&by_complexity_bucket=true",
      "GET /api/eval/stats?days=30",
    ]);
    expect(calls[1]?.body).toEqual({ message_index: 3 });
    expect(calls[2]?.body).toEqual({ scope: "session", session_id: "a/b c" });
  });

  it("turns a refusal into an ApiError with the API's reason", async () => {
    const { api } = client({ detail: "Message 0 is not an assistant message" }, 422);
    const failure = await api.eval.makeCandidate("s", 0).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ApiError);
    expect(failure).toMatchObject({ status: 422, message: "Message 0 is not an assistant message" });
  });
});

describe("what the eval pages show", () => {
  it("names every axis and bucket of the rubric, in its order", () => {
    expect(AXES).toEqual([...RUBRIC_AXES]);
    expect(BUCKETS).toEqual([...COMPLEXITY_BUCKETS]);
  });

  it("shows whole scores as they are, means to one decimal, and a dash for none", () => {
    expect([80, 73.333, null, undefined, Number.NaN].map(formatScore)).toEqual(["80", "73.3", "—", "—", "—"]);
    expect(scoredAxes(scores(50, { self_extension: 10 }))).toEqual([
      "task_complexity",
      "goal_completion",
      "tool_usage_quality",
      "efficiency",
      "communication",
      "self_extension",
    ]);
    expect(scoredAxes(null)).toEqual([]);
  });

  it("puts each message's ratings under it and offers only answers as candidates", () => {
    const transcript = transcriptOf(detail());
    expect(transcript.map((m) => [m.index, m.role, m.likes, m.dislikes, m.canBecomeCandidate])).toEqual([
      [0, "user", 0, 0, false],
      [1, "assistant", 0, 1, true],
      [2, "user", 0, 0, false],
      [3, "assistant", 0, 1, true],
    ]);
    expect(transcript[1]?.model).toBe("chat-7b");
    expect(transcript[1]?.ratings[0]?.comment).toBe("refused a task it can do");
    expect(raterOf(transcript[1]?.ratings[0] as never)).toBe("user-17 (via chat-product)");
    expect(raterOf(transcript[3]?.ratings[0] as never)).toBe("local-reviewer");
  });

  it("draws the trend overall and per bucket, leaving out empty weeks and unscored axes", () => {
    const overall = trendOf(stats);
    expect(overall.weeks).toEqual(["2026-09-28", "2026-10-05"]);
    expect(overall.sessions).toEqual([2, 1]);
    expect(overall.series.map((s) => s.axis)).toEqual([
      "task_complexity",
      "goal_completion",
      "tool_usage_quality",
      "efficiency",
      "communication",
    ]);
    expect(overall.series.find((s) => s.axis === "goal_completion")?.values).toEqual([60, 80]);

    const bucket = trendOf(stats, "26-50");
    expect(bucket.weeks).toEqual(["2026-10-05"]);
    expect(bucket.series.find((s) => s.axis === "goal_completion")?.values).toEqual([80]);
    expect(trendOf(stats, "76+")).toEqual({ weeks: [], series: [], sessions: [] });
    // Stats asked without buckets have none to show.
    expect(trendOf({ ...stats, weeks: stats.weeks.map(({ buckets: _b, ...w }) => w) }, "0-25").weeks).toEqual(
      [],
    );
  });

  it("says how far a run has come", () => {
    expect(runProgressText(run())).toBe("0 of 2 judged, 2 waiting");
    expect(runProgressText(run({ total: 5, counts: { pending: 1, running: 1, done: 2, failed: 1 } }))).toBe(
      "2 of 5 judged, 1 failed, 1 in progress, 1 waiting",
    );
    expect(runProgressText(run({ total: 0, counts: { pending: 0, running: 0, done: 0, failed: 0 } }))).toBe(
      "No session to judge",
    );
  });
});

describe("watching a run", () => {
  it("reads the run until it is completed, then stops asking", async () => {
    vi.useFakeTimers();
    const readings = [
      run(),
      run({ counts: { pending: 1, running: 1, done: 0, failed: 0 } }),
      run({ status: "completed", done: 2, counts: { pending: 0, running: 0, done: 2, failed: 0 } }),
    ];
    const api = { run: vi.fn(async (_id: string) => readings.shift() ?? run({ status: "completed" })) };
    const seen: string[] = [];
    const watch = watchRun(api, "run-1", {
      intervalMs: 1_000,
      onUpdate: (r) => seen.push(runProgressText(r)),
    });
    await vi.advanceTimersByTimeAsync(5_000);
    await watch.done;
    expect(seen).toEqual([
      "0 of 2 judged, 2 waiting",
      "0 of 2 judged, 1 in progress, 1 waiting",
      "2 of 2 judged",
    ]);
    expect(api.run).toHaveBeenCalledTimes(3);
    expect(api.run.mock.calls[0]?.[0]).toBe("run-1");
  });

  it("tries again after a failed read, and gives up after maxErrors in a row", async () => {
    vi.useFakeTimers();
    const api = { run: vi.fn(async () => Promise.reject(new Error("offline"))) };
    const errors: unknown[] = [];
    const watch = watchRun(api, "run-1", {
      intervalMs: 100,
      maxErrors: 3,
      onUpdate: () => {},
      onError: (e) => errors.push(e),
    });
    await vi.advanceTimersByTimeAsync(1_000);
    await watch.done;
    expect(errors).toHaveLength(3);
    expect(api.run).toHaveBeenCalledTimes(3);
  });

  it("stops when told, with no read after", async () => {
    vi.useFakeTimers();
    const api = { run: vi.fn(async () => run()) };
    const watch = watchRun(api, "run-1", { intervalMs: 100, onUpdate: () => {} });
    await vi.advanceTimersByTimeAsync(250);
    const calls = api.run.mock.calls.length;
    watch.stop();
    await watch.done;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(calls).toBeGreaterThanOrEqual(2);
    expect(api.run).toHaveBeenCalledTimes(calls);
  });
});
