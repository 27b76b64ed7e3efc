import { describe, expect, it } from "vitest";
import { reviewStats } from "../../../lib/common/domain/stats.ts";
import {
  JudgeBackendError,
  JudgeBusyError,
  type JudgeModel,
  JudgeOutputError,
  JudgeTimeoutError,
} from "../../../lib/eval/ports.ts";
import { planDecision, SubmitRequest } from "../../../lib/review/domain/review.ts";
import { selectionParts } from "../../../lib/suggest/adapters/suggestion-table.ts";
import {
  alreadySuggested,
  newSuggestionJob,
  SuggestionJobRequest,
  suggestionJobView,
} from "../../../lib/suggest/domain/job.ts";
import {
  MAX_SUGGESTION_BYTES,
  parseSuggestion,
  SUGGESTION_PROMPT_VERSION,
  SUGGESTION_SYSTEM_PROMPT,
  suggestionPrompt,
} from "../../../lib/suggest/domain/prompt.ts";
import {
  correctionSource,
  originFacts,
  type Suggestion,
  suggestionOf,
} from "../../../lib/suggest/domain/suggestion.ts";
import { createSuggestRecordHandler } from "../../../lib/suggest/edge/suggest-records.ts";
import type { SuggestionStore } from "../../../lib/suggest/ports.ts";
import { askSuggestion, failureReasonOf } from "../../../lib/suggest/usecases/suggest-candidate.ts";
import { sqsRecord } from "../../support/events.ts";
import { capturedLogLines } from "../../support/logs.ts";
import { storedCandidate } from "../../support/review-fakes.ts";

const AT = new Date("2026-05-01T10:00:00.000Z");

const suggestion: Suggestion = {
  id: "job-1",
  text: "The answer is 27.5.",
  model: "gpt-x",
  backend: "openai",
  prompt_version: SUGGESTION_PROMPT_VERSION,
  suggested_at: "2026-05-01T09:00:00.000Z",
};

describe("the suggestion prompt", () => {
  it("sends the constant system text, then the conversation, the model's answer and why it failed", () => {
    const turns = suggestionPrompt({
      prompt_messages: [
        { role: "system", content: "Answer with a number." },
        { role: "user", content: "What is 55 / 2?" },
      ],
      model_response: "The answer is 110.",
      failure_reason: "numeric_match: off by factor",
      task_type: "math",
    });
    expect(turns).toHaveLength(2);
    expect(turns[0]).toEqual({ role: "system", content: SUGGESTION_SYSTEM_PROMPT });
    const user = turns[1]?.content ?? "";
    expect(turns[1]?.role).toBe("user");
    expect(user).toContain("[0] system:\nAnswer with a number.");
    expect(user).toContain("[1] user:\nWhat is 55 / 2?");
    expect(user).toContain("<<<\nThe answer is 110.\n>>>");
    expect(user).toContain("Why it was judged wrong: numeric_match: off by factor");
    expect(user).toContain("Task type: math");
  });

  it("leaves out what the candidate does not have and keeps both ends of a long conversation", () => {
    const long = `${"a".repeat(40_000)}MIDDLE${"z".repeat(40_000)}`;
    const user = suggestionPrompt({
      prompt_messages: [{ role: "user", content: long }],
      model_response: "x",
    })[1]?.content as string;
    expect(user).not.toContain("Why it was judged wrong");
    expect(user).not.toContain("Task type");
    expect(user).not.toContain("MIDDLE");
    expect(user).toContain("characters left out");
    expect(user.startsWith("Conversation the model was given:\n\n[0] user:\naaa")).toBe(true);
    expect(user).toContain("zzz\n\nThe model's answer:");
  });
});

describe("parseSuggestion", () => {
  it.each([
    ['{"answer": "  27.5\\r\\n"}', "27.5"],
    ['```json\n{"answer": "Line one\\nLine two"}\n```', "Line one\nLine two"],
    ['Sure! {"answer": "42"} Hope that helps.', "42"],
  ])("reads the answer from %j", (reply, text) => {
    expect(parseSuggestion(reply)).toEqual({ ok: true, text });
  });

  it.each([
    ["Overall a lovely answer!", "it contains no JSON object"],
    ['{"answer": "   "}', "answer: must not be blank"],
    ['{"corrected": "42"}', "answer:"],
    ['{"answer": 42}', "answer:"],
  ])("names what is wrong with %j", (reply, problem) => {
    const parsed = parseSuggestion(reply);
    expect(parsed.ok).toBe(false);
    expect(parsed.ok ? "" : parsed.problem).toContain(problem);
  });

  it("refuses an answer too long to keep beside the candidate", () => {
    const parsed = parseSuggestion(JSON.stringify({ answer: "é".repeat(MAX_SUGGESTION_BYTES / 2 + 1) }));
    expect(parsed).toEqual({ ok: false, problem: `answer: must be at most ${MAX_SUGGESTION_BYTES} bytes` });
  });
});

/** A model answering from a script; it records what it was asked. */
function scripted(...replies: (string | Error)[]) {
  const asked: { role: string; content: string }[][] = [];
  const model: JudgeModel = {
    async complete(_name, turns) {
      asked.push([...turns]);
      const reply = replies.shift();
      if (reply instanceof Error) throw reply;
      return reply ?? "";
    },
  };
  return { model, asked };
}

describe("askSuggestion", () => {
  it("retries a malformed reply once, naming the problem, and takes the corrected one", async () => {
    const { model, asked } = scripted("I think it is 27.5", '{"answer": "27.5"}');
    expect(await askSuggestion(model, "m", { model_response: "110" })).toBe("27.5");
    expect(asked).toHaveLength(2);
    expect(asked[1]?.at(-2)).toEqual({ role: "assistant", content: "I think it is 27.5" });
    expect(asked[1]?.at(-1)?.content).toContain("That reply is not valid: it contains no JSON object");
  });

  it("gives up after a second malformed reply", async () => {
    const { model, asked } = scripted("no", "still no");
    await expect(askSuggestion(model, "m", { model_response: "110" })).rejects.toThrow(JudgeOutputError);
    expect(asked).toHaveLength(2);
  });

  it("counts the model's failures under a reason, and leaves a busy model to a later delivery", () => {
    expect(failureReasonOf(new JudgeOutputError("x"))).toBe("malformed");
    expect(failureReasonOf(new JudgeTimeoutError("x"))).toBe("timeout");
    expect(failureReasonOf(new JudgeBackendError("x"))).toBe("backend_error");
    expect(failureReasonOf(new JudgeBusyError("x"))).toBeNull();
    expect(failureReasonOf(new Error("store down"))).toBeNull();
  });
});

describe("correctionSource", () => {
  it("is accepted when the correction is the stored suggestion, blank space and line endings aside", () => {
    expect(correctionSource("  The answer is 27.5.\n", "job-1", suggestion)).toEqual({
      origin: "accepted",
      suggestion,
    });
    expect(correctionSource("a\r\nb", "job-1", { ...suggestion, text: "a\nb" }).origin).toBe("accepted");
  });

  it("is edited when the reviewer changed it", () => {
    expect(correctionSource("The answer is 27.50.", "job-1", suggestion)).toEqual({
      origin: "edited",
      suggestion,
    });
  });

  it("is written when the client started from no suggestion, or none is stored", () => {
    expect(correctionSource(suggestion.text, null, suggestion)).toEqual({
      origin: "written",
      suggestion: null,
    });
    expect(correctionSource("x", "job-1", undefined)).toEqual({ origin: "written", suggestion: null });
    expect(correctionSource("x", "job-1", { text: "not a suggestion" })).toEqual({
      origin: "written",
      suggestion: null,
    });
  });

  it("compares with the suggestion stored now when the client names one replaced since", () => {
    expect(correctionSource(suggestion.text, "job-0", suggestion).origin).toBe("accepted");
  });

  it("records the suggestion's id, model and prompt version beside the origin", () => {
    expect(originFacts({ origin: "edited", suggestion })).toEqual({
      correction_origin: "edited",
      suggestion_id: "job-1",
      suggestion_model: "gpt-x",
      suggestion_prompt_version: SUGGESTION_PROMPT_VERSION,
    });
    expect(originFacts({ origin: "written", suggestion: null })).toEqual({ correction_origin: "written" });
  });

  it("reads a stored value as a suggestion only in the shape one is written", () => {
    expect(suggestionOf(suggestion)).toEqual(suggestion);
    expect(suggestionOf({ ...suggestion, text: "" })).toBeNull();
    expect(suggestionOf("text")).toBeNull();
  });
});

describe("a decision on a candidate holding a suggestion", () => {
  const candidate = { ...storedCandidate("c1"), suggestion };
  const submit = (body: Record<string, unknown>) =>
    SubmitRequest.parse({ id: "c1", action: "correct", ...body });

  it("accepted: provenance, history and counters say so", () => {
    const transition = planDecision(
      candidate,
      submit({ corrected_response: suggestion.text, suggestion_id: "job-1" }),
      "ana",
      AT,
    );
    expect(transition.provenance.set).toMatchObject({
      approved: true,
      correction_origin: "accepted",
      suggestion_id: "job-1",
      suggestion_model: "gpt-x",
      suggestion_prompt_version: SUGGESTION_PROMPT_VERSION,
    });
    expect(transition.event.correction_origin).toBe("accepted");
    expect(transition.counterDelta["correction_origin#accepted"]).toBe(1);
  });

  it("edited, and written without a suggestion id, which then clears the suggestion's fields", () => {
    const edited = planDecision(
      candidate,
      submit({ corrected_response: "27.5", suggestion_id: "job-1" }),
      "ana",
      AT,
    );
    expect(edited.provenance.set.correction_origin).toBe("edited");
    const written = planDecision(candidate, submit({ corrected_response: suggestion.text }), "ana", AT);
    expect(written.provenance.set.correction_origin).toBe("written");
    expect(written.provenance.remove).toEqual(expect.arrayContaining(["suggestion_id", "suggestion_model"]));
    expect(written.event.correction_origin).toBe("written");
  });

  it("discard and flag record no origin", () => {
    const flag = planDecision(
      candidate,
      SubmitRequest.parse({ id: "c1", action: "flag", suggestion_id: "job-1" }),
      "ana",
      AT,
    );
    expect(flag.provenance.set.correction_origin).toBeUndefined();
    expect(flag.provenance.remove).toContain("correction_origin");
    expect(flag.event.correction_origin).toBeUndefined();
  });
});

describe("the stats' acceptance rate", () => {
  it("is the share of corrections started from a suggestion that were accepted as suggested", () => {
    const stats = reviewStats(
      { "correction_origin#accepted": 3, "correction_origin#edited": 1, "correction_origin#written": 6 },
      ["approved"],
    );
    expect(stats.suggestions).toEqual({ accepted: 3, edited: 1, written: 6, acceptance_rate: 0.75 });
    expect(
      reviewStats({ "correction_origin#written": 2 }, ["approved"]).suggestions.acceptance_rate,
    ).toBeNull();
  });
});

describe("suggestion jobs", () => {
  it("take the queue's filters, a limit of 1 to 1,000 (100 by default) and name the model", () => {
    expect(SuggestionJobRequest.parse({})).toEqual({ limit: 100, replace: false });
    expect(
      SuggestionJobRequest.parse({ run_id: "r1", suggest_model: "m", backend: "bedrock", limit: 5 }),
    ).toEqual({
      run_id: "r1",
      suggest_model: "m",
      backend: "bedrock",
      limit: 5,
      replace: false,
    });
    for (const bad of [{ limit: 0 }, { limit: 1001 }, { backend: "gpt" }, { run_id: " " }]) {
      expect(SuggestionJobRequest.safeParse(bad).success).toBe(false);
    }
  });

  it("are done once every selected candidate is counted", () => {
    const job = {
      ...newSuggestionJob(
        "j",
        SuggestionJobRequest.parse({ task_type: "math" }),
        { model: "m", backend: "openai" },
        "ana",
        AT,
      ),
      total: 4,
    };
    expect(job.filters).toEqual({ task_type: "math" });
    expect(job.prompt_version).toBe(SUGGESTION_PROMPT_VERSION);
    expect(suggestionJobView(job)).toMatchObject({ state: "running", pending: 4 });
    expect(suggestionJobView({ ...job, suggested: 2, failed: 1, skipped: 1 })).toMatchObject({
      state: "done",
      pending: 0,
    });
  });

  it("pass over a candidate holding the suggestion they would write", () => {
    const job = { model: "gpt-x", prompt_version: SUGGESTION_PROMPT_VERSION };
    expect(alreadySuggested(job, suggestion)).toBe(true);
    expect(alreadySuggested({ ...job, model: "other" }, suggestion)).toBe(false);
    expect(alreadySuggested({ ...job, prompt_version: "suggest-0" }, suggestion)).toBe(false);
    expect(alreadySuggested(job, null)).toBe(false);
  });
});

describe("a job's selection, stored in parts", () => {
  it("keeps every id in order, in parts under the item size limit even for the longest ids", () => {
    const longest = Array.from(
      { length: 1_000 },
      (_, i) => `${String(i).padStart(4, "0")}${"x".repeat(956)}`,
    );
    const parts = selectionParts(longest);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.flat()).toEqual(longest);
    for (const part of parts) expect(Buffer.byteLength(JSON.stringify(part))).toBeLessThan(300_000);
    expect(selectionParts(["a", "b", "c"])).toEqual([["a", "b", "c"]]);
    expect(selectionParts([])).toEqual([]);
  });
});

describe("the suggestion queue's record handler", () => {
  it("logs each message's outcome with its message id, its job and its candidate", async () => {
    const store = { find: async () => undefined } as unknown as SuggestionStore;
    const handle = createSuggestRecordHandler({ store, models: {} }, { maxReceiveCount: 3 });
    const body = JSON.stringify({ job_id: "job-7", candidate_id: "cand-3" });
    const lines = await capturedLogLines(() => handle(sqsRecord(body, { messageId: "msg-suggest-1" })));
    const handled = lines.find((line) => line.includes("candidate handled"));
    expect(handled).toContain("correlation_id=msg-suggest-1");
    expect(handled).toContain("suggestion_job_id=job-7");
    expect(handled).toContain("candidate_id=cand-3");
  });
});
