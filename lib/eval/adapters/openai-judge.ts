import { z } from "zod";
import type { ChatTurn } from "../domain/rubric.ts";
import { JudgeBackendError, type JudgeModel } from "../ports.ts";

/** Reads the API key when a request needs it (a fixed value, or a cached secret). */
export type ApiKeySource = () => Promise<string | undefined>;

export interface OpenAiCompatibleOptions {
  /** The API root, e.g. `https://api.openai.com/v1` or `http://127.0.0.1:11434/v1`. */
  readonly baseUrl: string;
  readonly apiKey: ApiKeySource;
  /** The whole request, body included, must finish within this. */
  readonly timeoutMs: number;
  readonly maxTokens?: number;
}

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

  constructor(private readonly options: OpenAiCompatibleOptions) {
    this.endpoint = new URL(
      "chat/completions",
      options.baseUrl.endsWith("/") ? options.baseUrl : `${options.baseUrl}/`,
    );
  }

  async complete(model: string, turns: readonly ChatTurn[]): Promise<string> {
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
    } catch (error) {
      if (signal.aborted) {
        throw new JudgeBackendError(`the judge did not answer within ${this.options.timeoutMs} ms`);
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
    return completion.data.choices[0]?.message.content ?? "";
  }
}
