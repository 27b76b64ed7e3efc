import * as z from "zod";
import type { ChatTurn } from "../domain/rubric.ts";
import { JudgeBackendError, JudgeBusyError, type JudgeModel, JudgeTimeoutError } from "../ports.ts";

/** Reads the API key when a request needs it (a fixed value, or a cached secret). */
export type ApiKeySource = () => Promise<string | undefined>;

export interface OpenAiCompatibleOptions {
  /** The API root, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`. */
  readonly baseUrl: string;
  readonly apiKey: ApiKeySource;
  /** The whole request, body included, must finish within this. */
  readonly timeoutMs: number;
  readonly maxTokens?: number;
  /** Tries of a request the judge answers 429 or 5xx (default 3), with backoff between them. */
  readonly attempts?: number;
  /** Requests in flight at once from this process (default 4): the judge is a shared resource. */
  readonly concurrency?: number;
  /** Waits between tries (tests shorten it). */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** HTTP statuses a judge answers when it sheds load: worth another try after a pause. */
const isBusy = (status: number) => status === 429 || status >= 500;
/** The longest pause a judge's `Retry-After` may ask for here; longer waits go back to the queue. */
const MAX_RETRY_AFTER_MS = 20_000;

/** The part of a chat-completions response the judge reads. */
const ChatCompletion = z.object({
  choices: z.array(z.object({ message: z.object({ content: z.string().nullable().optional() }) })).min(1),
});

/**
 * An OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, LiteLLM …) over
 * `fetch`. Anything short of a readable completion is a `JudgeBackendError`; what the model
 * wrote is returned as it is, for the judge to validate.
 */
export class OpenAiCompatibleJudge implements JudgeModel {
  private readonly endpoint: URL;
  private readonly slots: Slots;

  constructor(private readonly options: OpenAiCompatibleOptions) {
    this.slots = new Slots(options.concurrency ?? 4);
    this.endpoint = new URL(
      "chat/completions",
      options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`,
    );
  }

  async complete(model: string, turns: readonly ChatTurn[]): Promise<string> {
    const attempts = this.options.attempts ?? 3;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    for (let attempt = 1; ; attempt++) {
      const answer = await this.slots.run(() => this.ask(model, turns));
      if (answer.kind === "text") return answer.text;
      if (attempt >= attempts) {
        throw new JudgeBusyError(
          `the judge answered HTTP ${answer.status} ${attempts} times: ${answer.body}`,
        );
      }
      // Full jitter, unless the judge said how long to wait.
      await sleep(answer.retryAfterMs ?? Math.random() * 500 * 2 ** attempt);
    }
  }

  private async ask(
    model: string,
    turns: readonly ChatTurn[],
  ): Promise<
    { kind: "text"; text: string } | { kind: "busy"; status: number; body: string; retryAfterMs?: number }
  > {
    const apiKey = await this.options.apiKey();
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    let status: number;
    let text: string;
    try {
      const response = await fetch(this.endpoint, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}),
        },
        body: JSON.stringify({
          model,
          messages: turns,
          temperature: 0,
          max_tokens: this.options.maxTokens ?? 1_024,
        }),
        signal,
      });
      status = response.status;
      text = await response.text();
      if (isBusy(status)) {
        const retryAfter = Number(response.headers.get("retry-after"));
        return {
          kind: "busy",
          status,
          body: text.slice(0, 300),
          ...(Number.isFinite(retryAfter) && retryAfter >= 0
            ? { retryAfterMs: Math.min(retryAfter * 1000, MAX_RETRY_AFTER_MS) }
            : {}),
        };
      }
    } catch (error) {
      if (signal.aborted) {
        throw new JudgeTimeoutError(`the judge did not answer within ${this.options.timeoutMs} ms`);
      }
      throw new JudgeBackendError(`the judge could not be reached: ${(error as Error).message}`);
    }
    if (status < 200 || status > 299) {
      throw new JudgeBackendError(`the judge answered HTTP ${status}: ${text.slice(0, 300)}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new JudgeBackendError(`the judge's response is not JSON: ${text.slice(0, 200)}`);
    }
    const completion = ChatCompletion.safeParse(body);
    if (!completion.success) {
      throw new JudgeBackendError("the judge's response is not a chat completion");
    }
    return { kind: "text", text: completion.data.choices[0]?.message.content ?? "" };
  }
}

/** At most `size` tasks at once; the others wait their turn, first come first served. */
class Slots {
  private active = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly size: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active += 1;
    try {
      return await task();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}
