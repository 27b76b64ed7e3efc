import { describe, expect, it } from "vitest";
import { SUGGESTION_PROMPT_VERSION } from "../../lib/suggest/domain/prompt.ts";
import { type FakeJudgeServer, quotedAnswer, startFakeJudgeServer } from "../support/fake-judge-server.ts";
import { SAMPLE_RUN, seen, WAIT_MS, webE2e } from "../support/web-e2e.ts";

/**
 * A suggestion job through `npm start`'s runtime against a fake OpenAI-compatible server, then a
 * reviewer in Chromium accepting a suggestion with one key: the correction lands with provenance
 * saying it was accepted as suggested, by which model and prompt version.
 */

const runId = SAMPLE_RUN;
const LLM_KEY = "sk-e2e-suggestions";
/** The first candidate of the sample run answers "Answer: 110"; the fake suggests this instead. */
const SUGGESTED =
  "The train covers 55 km in 2 hours, so its average speed is 55 / 2 = 27.5 km/h.\nAnswer: 27.5";

let llm: FakeJudgeServer;
const web = webE2e({
  name: "flywheel-suggest-e2e",
  viewport: { width: 1280, height: 1000 },
  before: async () => {
    llm = await startFakeJudgeServer({
      apiKey: LLM_KEY,
      suggestionFor: (request) =>
        quotedAnswer(request) === "Answer: 110" ? SUGGESTED : `${quotedAnswer(request)} (checked)`,
    });
    // The suggestion function reads the judge's settings, as a deployment would give them.
    return { JUDGE_OPENAI_BASE_URL: llm.baseUrl, JUDGE_OPENAI_API_KEY: LLM_KEY };
  },
  seed: () => web.importSampleRun(),
  after: async () => {
    await llm?.close();
  },
  setupTimeoutMs: 180_000,
});
const { api, waitFor } = web;

const cardId = () => seen(web.page.locator('[data-testid="queue-card"] .mono'));

describe("a suggested correction accepted with one key in Chromium", () => {
  let jobId: string;
  const first = `${runId}-0000000`;

  it("runs a suggestion job for the run's three oldest candidates through the local runtime's poller", async () => {
    const started = await api<{ id: string; total: number }>("/api/sft/suggestions", {
      method: "POST",
      body: JSON.stringify({ run_id: runId, limit: 3, suggest_model: "good" }),
    });
    expect(started.status).toBe(202);
    expect(started.body.total).toBe(3);
    jobId = started.body.id;

    const job = await waitFor("the suggestion job", async () => {
      const read = await api<{ state: string; suggested: number; failed: number }>(
        `/api/sft/suggestions/${jobId}`,
      );
      return read.body.state === "done" ? read.body : undefined;
    });
    expect(job).toMatchObject({ suggested: 3, failed: 0 });
    expect(llm.requests.every((r) => r.authorization === `Bearer ${LLM_KEY}`)).toBe(true);
  });

  it("shows the suggestion as a word diff against the model's answer", async () => {
    await web.open();
    await web.page.getByTestId("queue-card").waitFor();
    expect(await cardId()).toBe(first);
    const suggestion = web.page.getByTestId("suggestion");
    await suggestion.waitFor();
    expect(await seen(web.page.getByTestId("suggestion-source"))).toBe(`good · ${SUGGESTION_PROMPT_VERSION}`);
    expect(await suggestion.locator("del").allInnerTexts()).toEqual(["110"]);
    expect((await suggestion.locator("ins").allInnerTexts()).join(" ")).toContain("27.5");
    expect(await seen(web.page.getByTestId("suggestion-changes"))).toContain(
      "A accepts it as the correction",
    );

    await web.screenshot("suggestion.png");
  });

  it("A accepts it: the correction is stored with provenance saying it was accepted, by which model and prompt version", async () => {
    await web.page.keyboard.press("a");
    await expect.poll(() => cardId(), { timeout: WAIT_MS }).not.toBe(first);

    const detail = await api<{
      candidate: Record<string, unknown> & { provenance: Record<string, unknown> };
      history: { action: string; correction_origin?: string }[];
    }>(`/api/sft/candidates/${first}`);
    expect(detail.body.candidate).toMatchObject({ status: "approved", corrected_response: SUGGESTED });
    expect(detail.body.candidate.provenance).toMatchObject({
      approved: true,
      approved_by: "local-reviewer",
      correction_origin: "accepted",
      suggestion_id: jobId,
      suggestion_model: "good",
      suggestion_prompt_version: SUGGESTION_PROMPT_VERSION,
    });
    expect(detail.body.history.at(-1)).toMatchObject({ action: "correct", correction_origin: "accepted" });

    const stats = await api<{ suggestions: Record<string, unknown> }>("/api/sft/stats");
    expect(stats.body.suggestions).toEqual({ accepted: 1, edited: 0, written: 0, acceptance_rate: 1 });
  });

  it("an edited suggestion is recorded as edited", async () => {
    const second = await cardId();
    await web.page.getByTestId("suggestion").waitFor();
    await web.page.keyboard.press("c");
    const editor = web.page.getByTestId("correction");
    await expect.poll(() => editor.inputValue()).toContain("(checked)");
    await editor.fill("A corrected answer, reworded.");
    await web.page.keyboard.press("Control+Enter");
    await expect.poll(() => cardId(), { timeout: WAIT_MS }).not.toBe(second);

    const detail = await api<{ candidate: { provenance: Record<string, unknown> } }>(
      `/api/sft/candidates/${second}`,
    );
    expect(detail.body.candidate.provenance).toMatchObject({
      correction_origin: "edited",
      suggestion_id: jobId,
    });
    const stats = await api<{ suggestions: Record<string, unknown> }>("/api/sft/stats");
    expect(stats.body.suggestions).toEqual({ accepted: 1, edited: 1, written: 0, acceptance_rate: 0.5 });
  });

  it("never left this machine and raised no page error", () => {
    web.expectStayedLocal();
  });
});
