import { afterEach, describe, expect, it, vi } from "vitest";
import { OpenAiCompatibleJudge } from "../../../lib/eval/adapters/openai-judge.ts";
import { JudgeBackendError, JudgeBusyError } from "../../../lib/eval/ports.ts";

const completion = (text: string) =>
  new Response(JSON.stringify({ choices: [{ message: { content: text } }] }), { status: 200 });
const busy = (status: number, retryAfter?: string) =>
  new Response("overloaded", { status, headers: retryAfter ? { "retry-after": retryAfter } : {} });
const turns = [{ role: "user" as const, content: "hi" }];

function judgeWith(options: { attempts?: number; concurrency?: number } = {}) {
  const waits: number[] = [];
  const judge = new OpenAiCompatibleJudge({
    baseUrl: "http://127.0.0.1:9/v1",
    apiKey: async () => undefined,
    timeoutMs: 5_000,
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...options,
  });
  return { judge, waits };
}

afterEach(() => vi.unstubAllGlobals());

describe("OpenAiCompatibleJudge when the judge sheds load", () => {
  it("tries a 429 and a 503 again after a pause, honouring Retry-After, and returns the answer", async () => {
    const fetch = vi
      .fn()
      .mockResolvedValueOnce(busy(429, "2"))
      .mockResolvedValueOnce(busy(503))
      .mockResolvedValueOnce(completion("verdict"));
    vi.stubGlobal("fetch", fetch);
    const { judge, waits } = judgeWith();

    await expect(judge.complete("m", turns)).resolves.toBe("verdict");
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(waits[0]).toBe(2_000);
    expect(waits).toHaveLength(2);
  });

  it("gives up after its tries with a busy error, which sends the session back to the queue", async () => {
    vi.stubGlobal(
      "fetch",
      vi.fn().mockImplementation(async () => busy(500)),
    );
    const { judge } = judgeWith({ attempts: 3 });

    const error = await judge.complete("m", turns).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(JudgeBusyError);
    expect((error as Error).message).toContain("HTTP 500 3 times");
  });

  it("keeps a client error (400) a backend error, without trying again", async () => {
    const fetch = vi.fn().mockResolvedValue(new Response("bad request", { status: 400 }));
    vi.stubGlobal("fetch", fetch);
    const { judge } = judgeWith();

    await expect(judge.complete("m", turns)).rejects.toBeInstanceOf(JudgeBackendError);
    expect(fetch).toHaveBeenCalledTimes(1);
  });

  it("has at most `concurrency` requests in flight, however many are asked at once", async () => {
    let inFlight = 0;
    let most = 0;
    vi.stubGlobal(
      "fetch",
      vi.fn().mockImplementation(async () => {
        inFlight += 1;
        most = Math.max(most, inFlight);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlight -= 1;
        return completion("ok");
      }),
    );
    const { judge } = judgeWith({ concurrency: 2 });

    await Promise.all(Array.from({ length: 8 }, () => judge.complete("m", turns)));

    expect(most).toBe(2);
  });
});
