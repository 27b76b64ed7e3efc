import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { JudgeScores } from "../../lib/eval/domain/rubric.ts";
import { SUGGESTION_SYSTEM_PROMPT } from "../../lib/suggest/domain/prompt.ts";

export interface ChatRequest {
  readonly model: string;
  readonly messages: { role: string; content: string }[];
  readonly authorization: string | undefined;
}

/**
 * What the fake answers, by the requested model:
 * - `good`: a valid verdict with `scoresFor`'s scores;
 * - `garbage`: prose without JSON, every time;
 * - `flaky`: garbage first, a valid verdict when asked again after the judge's correction;
 * - `slow`: a valid verdict after `slowMs` (beyond the judge's timeout);
 * - `broken`: HTTP 500;
 * - `busy`: HTTP 429 with `Retry-After: 0`, every time;
 * - `busy-once`: HTTP 429 the first time a conversation is asked, a valid answer after.
 * A conversation containing `[judge:garbage]` gets garbage whatever the model.
 * A suggestion request (the suggestion job's system prompt) is answered `{"answer": …}` with
 * `suggestionFor`'s text where the judge's would get a verdict.
 */
export type FakeBehaviour = "good" | "garbage" | "flaky" | "slow" | "broken" | "busy" | "busy-once";

export interface FakeJudgeServer {
  /** The API root to configure, `http://127.0.0.1:<port>/v1`. */
  readonly baseUrl: string;
  readonly requests: ChatRequest[];
  close(): Promise<void>;
}

/** Whether a request is a suggestion job's, by its system prompt. */
export function isSuggestionRequest(request: Pick<ChatRequest, "messages">): boolean {
  return request.messages.find((m) => m.role === "system")?.content === SUGGESTION_SYSTEM_PROMPT;
}

/** The model's answer a suggestion request quotes (between `<<<` and `>>>`). */
export function quotedAnswer(request: Pick<ChatRequest, "messages">): string {
  const user = request.messages.find((m) => m.role === "user")?.content ?? "";
  return /<<<\n([\s\S]*?)\n>>>/.exec(user)?.[1] ?? "";
}

/** The expert a request is for, from the focus sentence of its system prompt. */
export function expertOf(request: Pick<ChatRequest, "messages">): string {
  const system = request.messages.find((m) => m.role === "system")?.content ?? "";
  if (system.includes("task analysis")) return "task_analyst";
  if (system.includes("agent workflows")) return "process_reviewer";
  return "communication_reviewer";
}

/** Default scores: fixed per expert, so the per-axis means are known. */
export const EXPERT_SCORES: Record<string, JudgeScores> = {
  task_analyst: {
    task_complexity: 40,
    goal_completion: 80,
    tool_usage_quality: 70,
    efficiency: 60,
    communication: 90,
    subagent_orchestration: null,
    self_extension: null,
  },
  process_reviewer: {
    task_complexity: 30,
    goal_completion: 70,
    tool_usage_quality: 60,
    efficiency: 50,
    communication: 80,
    subagent_orchestration: null,
    self_extension: null,
  },
  communication_reviewer: {
    task_complexity: 50,
    goal_completion: 90,
    tool_usage_quality: 80,
    efficiency: 70,
    communication: 100,
    subagent_orchestration: null,
    self_extension: null,
  },
};

const conversationOf = (request: Pick<ChatRequest, "messages">) =>
  request.messages.find((m) => m.role === "user")?.content ?? "";

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

/** Starts an OpenAI-compatible chat-completions server on 127.0.0.1, on a free port. */
export async function startFakeJudgeServer(
  options: {
    scoresFor?: (request: ChatRequest) => JudgeScores;
    /** A suggestion's text; by default the quoted answer with every number doubled. */
    suggestionFor?: (request: ChatRequest) => string;
    slowMs?: number;
    apiKey?: string;
  } = {},
): Promise<FakeJudgeServer> {
  const requests: ChatRequest[] = [];
  const suggestionFor =
    options.suggestionFor ??
    ((request: ChatRequest) => quotedAnswer(request).replace(/\d+(\.\d+)?/g, (n) => String(Number(n) * 2)));
  const busyOnce = new Set<string>();
  const scoresFor = options.scoresFor ?? ((request) => EXPERT_SCORES[expertOf(request)] as JudgeScores);
  const server: Server = createServer(async (req, res) => {
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      if (res.destroyed) return;
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(JSON.stringify(body));
    };
    const busyReply = () => reply(429, { error: { message: "rate limited" } }, { "retry-after": "0" });
    if (req.method !== "POST" || req.url !== "/v1/chat/completions")
      return reply(404, { error: "not found" });
    if (options.apiKey && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      return reply(401, { error: { message: "invalid api key" } });
    }
    const body = (await readJson(req)) as { model: string; messages: ChatRequest["messages"] };
    const request: ChatRequest = { ...body, authorization: req.headers.authorization };
    requests.push(request);
    const completion = (content: string) =>
      reply(200, {
        id: `chatcmpl-${requests.length}`,
        object: "chat.completion",
        model: body.model,
        choices: [{ index: 0, finish_reason: "stop", message: { role: "assistant", content } }],
      });
    const verdict = () =>
      isSuggestionRequest(request)
        ? JSON.stringify({ answer: suggestionFor(request) })
        : JSON.stringify({
            scores: scoresFor(request),
            comment: `${expertOf(request)} read the conversation.`,
          });
    const garbage = "Overall a lovely conversation, I would give it a solid B+!";
    const behaviour = conversationOf(request).includes("[judge:garbage]")
      ? "garbage"
      : (body.model as FakeBehaviour);
    switch (behaviour) {
      case "garbage":
        return completion(garbage);
      case "flaky": {
        const corrected = body.messages.at(-1)?.content.includes("not valid") ?? false;
        return completion(corrected ? `\`\`\`json\n${verdict()}\n\`\`\`` : garbage);
      }
      case "slow":
        setTimeout(() => completion(verdict()), options.slowMs ?? 5_000).unref();
        return;
      case "broken":
        return reply(500, { error: { message: "model crashed" } });
      case "busy-once":
        if (busyOnce.has(conversationOf(request))) return completion(verdict());
        busyOnce.add(conversationOf(request));
        return busyReply();
      case "busy":
        return busyReply();
      default:
        return completion(verdict());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
