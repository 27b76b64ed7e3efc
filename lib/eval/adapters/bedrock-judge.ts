import {
  type BedrockRuntimeClient,
  BedrockRuntimeServiceException,
  type ContentBlock,
  ConverseCommand,
  type Message,
} from "@aws-sdk/client-bedrock-runtime";
import type { ChatTurn } from "../domain/rubric.ts";
import { JudgeBackendError, JudgeBusyError, type JudgeModel, JudgeTimeoutError } from "../ports.ts";

export interface BedrockJudgeOptions {
  readonly timeoutMs: number;
  readonly maxTokens?: number;
}

/**
 * Amazon Bedrock's Converse API: system turns become the system prompt, the rest the
 * conversation. Service errors, network errors and timeouts become `JudgeBackendError`.
 */
/** Bedrock's answers when it sheds load (after the SDK's own retries): the session is tried later. */
const BUSY = new Set([
  "ThrottlingException",
  "ServiceUnavailableException",
  "InternalServerException",
  "ModelNotReadyException",
]);

export class BedrockConverseJudge implements JudgeModel {
  constructor(
    private readonly client: BedrockRuntimeClient,
    private readonly options: BedrockJudgeOptions,
  ) {}

  async complete(model: string, turns: readonly ChatTurn[]): Promise<string> {
    const system = turns.filter((turn) => turn.role === "system").map((turn) => ({ text: turn.content }));
    const messages: Message[] = turns
      .filter((turn) => turn.role !== "system")
      .map((turn) => ({ role: turn.role as "user" | "assistant", content: [{ text: turn.content }] }));
    const signal = AbortSignal.timeout(this.options.timeoutMs);
    try {
      const output = await this.client.send(
        new ConverseCommand({
          modelId: model,
          system,
          messages,
          inferenceConfig: { maxTokens: this.options.maxTokens ?? 1_024, temperature: 0 },
        }),
        { abortSignal: signal },
      );
      const content: ContentBlock[] = output.output?.message?.content ?? [];
      return content
        .map((block) => ("text" in block && typeof block.text === "string" ? block.text : ""))
        .join("");
    } catch (error) {
      if (signal.aborted) {
        throw new JudgeTimeoutError(`Bedrock did not answer within ${this.options.timeoutMs} ms`);
      }
      if (error instanceof BedrockRuntimeServiceException && BUSY.has(error.name)) {
        throw new JudgeBusyError(`Bedrock is busy: ${error.name}: ${error.message}`);
      }
      if (error instanceof BedrockRuntimeServiceException) {
        throw new JudgeBackendError(`Bedrock refused the request: ${error.name}: ${error.message}`);
      }
      throw new JudgeBackendError(`Bedrock could not be reached: ${(error as Error).message}`);
    }
  }
}
