import {
  BedrockRuntimeClient,
  ConverseCommand,
  ThrottlingException,
  ValidationException,
} from "@aws-sdk/client-bedrock-runtime";
import { mockClient } from "aws-sdk-client-mock";
import { beforeEach, describe, expect, it } from "vitest";
import { BedrockConverseJudge } from "../../../lib/eval/adapters/bedrock-judge.ts";
import { JudgeBackendError, JudgeBusyError } from "../../../lib/eval/ports.ts";

const client = new BedrockRuntimeClient({ region: "us-east-1" });
const mock = mockClient(client);
const judge = new BedrockConverseJudge(client, { timeoutMs: 1_000, maxTokens: 512 });
const turns = [
  { role: "system", content: "You are an expert." },
  { role: "user", content: "Conversation to evaluate: …" },
  { role: "assistant", content: "no json" },
  { role: "user", content: "That reply is not valid." },
] as const;

beforeEach(() => mock.reset());

describe("BedrockConverseJudge", () => {
  it("sends system turns as the system prompt and the rest as the conversation, at temperature 0", async () => {
    mock.on(ConverseCommand).resolves({
      output: { message: { role: "assistant", content: [{ text: '{"scores":' }, { text: " {}}" }] } },
      stopReason: "end_turn",
      usage: { inputTokens: 1, outputTokens: 1, totalTokens: 2 },
      metrics: { latencyMs: 1 },
    });

    await expect(judge.complete("anthropic.claude-3-haiku-20240307-v1:0", turns)).resolves.toBe(
      '{"scores": {}}',
    );

    expect(mock).toHaveReceivedCommandWith(ConverseCommand, {
      modelId: "anthropic.claude-3-haiku-20240307-v1:0",
      system: [{ text: "You are an expert." }],
      messages: [
        { role: "user", content: [{ text: "Conversation to evaluate: …" }] },
        { role: "assistant", content: [{ text: "no json" }] },
        { role: "user", content: [{ text: "That reply is not valid." }] },
      ],
      inferenceConfig: { maxTokens: 512, temperature: 0 },
    });
  });

  it("reads an answer without text blocks as empty, for the judge to reject", async () => {
    mock.on(ConverseCommand).resolves({ output: { message: { role: "assistant", content: [] } } } as never);
    await expect(judge.complete("m", turns)).resolves.toBe("");
  });

  it("turns throttling into a busy judge, to be tried again later, and a refusal into a backend error", async () => {
    mock.on(ConverseCommand).rejects(new ThrottlingException({ message: "slow down", $metadata: {} }));
    const busy = await judge.complete("m", turns).catch((e: unknown) => e);
    expect(busy).toBeInstanceOf(JudgeBusyError);
    expect((busy as Error).message).toContain("slow down");

    mock.on(ConverseCommand).rejects(new ValidationException({ message: "bad model id", $metadata: {} }));
    const refused = await judge.complete("m", turns).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(JudgeBackendError);
    expect((refused as Error).message).toContain("bad model id");
  });

  it("turns a network failure into a backend error", async () => {
    mock.on(ConverseCommand).rejects(new Error("socket hang up"));
    await expect(judge.complete("m", turns)).rejects.toThrow(JudgeBackendError);
  });
});
