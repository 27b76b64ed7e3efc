import { createHash } from "node:crypto";
import * as z from "zod";
import type { ExportFormat, ExportOptions } from "./export-request.ts";

/**
 * The dataset formats. Each turns one reviewed candidate — prompt P, the model's answer B, the
 * reviewer's correction C — into the line(s) its trainer reads, and has a zod schema that every
 * line written is checked against. Formats whose trainers refuse unknown keys (OpenAI, Bedrock)
 * carry exactly their trainer's fields; the others also carry the record id.
 */

export interface ChatTurn {
  readonly role: string;
  readonly content: string;
}

/** Where an example came from, for RAG metadata. */
export interface ExampleContext {
  readonly source: string | null;
  readonly task_type: string | null;
  readonly model: string | null;
  readonly failure_category: string | null;
  readonly captured_at: string | null;
  readonly run_id: string | null;
  /** RAG with `options.include_in_review`: set on a candidate still in review, absent otherwise. */
  readonly review_status?: "needs_review";
}

/** One reviewed candidate, as every format is built from it. */
export interface TrainingExample {
  readonly candidateId: string;
  /** P: the conversation up to the answer. */
  readonly prompt: readonly ChatTurn[];
  /** C: the correction. */
  readonly chosen: string;
  /** B: the model's original answer ("" when there is none). */
  readonly rejected: string;
  readonly context: ExampleContext;
}

/** Rules a trainer enforces beyond the shape of a line. */
export const TRAINER_RULES = [
  "bedrock_reserved_string",
  "first_turn_not_user",
  "last_turn_not_assistant",
  "turns_not_alternating",
  "system_not_leading",
  "unsupported_role",
] as const;
export type TrainerRule = (typeof TRAINER_RULES)[number];

export interface RuleViolation {
  readonly rule: TrainerRule;
  readonly detail: string;
}

export interface ExportLine {
  readonly recordId: string;
  readonly line: Record<string, unknown>;
}

export interface FormatSpec {
  readonly format: ExportFormat;
  /** Every line written must pass it. */
  readonly schema: z.ZodType;
  /** Uses B as the rejected or undesirable side: B must be non-blank and differ from C. */
  readonly pairs: boolean;
  /** Needs a prompt (RAG documents are the correction alone). */
  readonly needsPrompt: boolean;
  /** The first trainer rule the example breaks, or `null`. */
  check(example: TrainingExample): RuleViolation | null;
  build(example: TrainingExample, options: ExportOptions): ExportLine[];
}

/** Deterministic: the same candidate in the same format always gets the same id. */
export function recordId(candidateId: string, format: ExportFormat, variant = ""): string {
  return createHash("sha256").update(`${format}\n${candidateId}\n${variant}`).digest("hex").slice(0, 32);
}

/**
 * Strings Amazon Bedrock refuses anywhere in a Nova fine-tuning sample, as AWS's Nova dataset
 * validator lists them (`INVALID_TOKENS_TEXT`, which spells out upper-, lower- and title-case
 * variants): matched here case-insensitively, so no spelling of them passes.
 */
export const BEDROCK_RESERVED_STRINGS = [
  "System:",
  "User:",
  "Bot:",
  "Assistant:",
  "Thought:",
  "[EOS]",
  "<image>",
  "<video>",
  "<unk>",
] as const;
const RESERVED_PATTERN = new RegExp(
  BEDROCK_RESERVED_STRINGS.map((text) => text.replace(/[[\]]/g, "\\$&")).join("|"),
  "i",
);

/** The first reserved string `text` contains, as written there, or `null`. */
export function bedrockReservedString(text: string): string | null {
  return RESERVED_PATTERN.exec(text)?.[0] ?? null;
}

const nonBlank = z.string().refine((text) => text.trim() !== "", "must not be blank");
const recordIdField = z.string().regex(/^[0-9a-f]{32}$/);

const chatMessage = (roles: readonly [string, ...string[]]) =>
  z.strictObject({ role: z.enum(roles), content: nonBlank });
const AssistantReply = z.tuple([z.strictObject({ role: z.literal("assistant"), content: nonBlank })]);

const OPENAI_ROLES = ["system", "user", "assistant"] as const;
const TRL_ROLES = ["system", "user", "assistant"] as const;
const OpenAiMessage = chatMessage(OPENAI_ROLES);
const TrlMessage = chatMessage(TRL_ROLES);

/**
 * OpenAI fine-tuning trains on every assistant message of an example unless the message carries
 * `weight: 0` (`weight` is 0 or 1, on assistant messages only). Only the last assistant message —
 * the reviewed correction — may train: every assistant turn before it must carry `weight: 0`.
 */
const OpenAiSftMessage = z.union([
  z.strictObject({ role: z.enum(["system", "user"]), content: nonBlank }),
  z.strictObject({ role: z.literal("assistant"), content: nonBlank, weight: z.literal([0, 1]).optional() }),
]);
export const OpenAiSftLine = z
  .strictObject({ messages: z.array(OpenAiSftMessage).min(2) })
  .superRefine(({ messages }, context) => {
    const last = messages.length - 1;
    messages.forEach((message, i) => {
      if (message.role !== "assistant") return;
      const weight = "weight" in message ? message.weight : undefined;
      if (i < last && weight !== 0) {
        context.addIssue({
          code: "custom",
          path: ["messages", i, "weight"],
          message: "an assistant turn before the reviewed answer must carry weight 0 (it was never reviewed)",
        });
      }
      if (i === last && weight === 0) {
        context.addIssue({
          code: "custom",
          path: ["messages", i, "weight"],
          message: "the reviewed answer must train (weight 0 would leave nothing to learn)",
        });
      }
    });
  });
export type OpenAiSftLine = z.infer<typeof OpenAiSftLine>;

export const OpenAiPreferenceLine = z.strictObject({
  input: z.strictObject({ messages: z.array(OpenAiMessage).min(1) }),
  preferred_output: AssistantReply,
  non_preferred_output: AssistantReply,
});
export type OpenAiPreferenceLine = z.infer<typeof OpenAiPreferenceLine>;

export const TrlSftLine = z.union([
  z.strictObject({ id: recordIdField, messages: z.array(TrlMessage).min(2) }),
  z.strictObject({ id: recordIdField, prompt: z.array(TrlMessage).min(1), completion: AssistantReply }),
]);
export type TrlSftLine = z.infer<typeof TrlSftLine>;

export const TrlDpoLine = z.strictObject({
  id: recordIdField,
  prompt: z.array(TrlMessage).min(1),
  chosen: AssistantReply,
  rejected: AssistantReply,
});
export type TrlDpoLine = z.infer<typeof TrlDpoLine>;

export const TrlKtoLine = z.strictObject({
  id: recordIdField,
  prompt: z.array(TrlMessage).min(1),
  completion: AssistantReply,
  label: z.boolean(),
});
export type TrlKtoLine = z.infer<typeof TrlKtoLine>;

const TextBlocks = z.array(z.strictObject({ text: nonBlank })).min(1);
export const BedrockConversationLine = z.strictObject({
  schemaVersion: z.literal("bedrock-conversation-2024"),
  system: TextBlocks.optional(),
  messages: z.array(z.strictObject({ role: z.enum(["user", "assistant"]), content: TextBlocks })).min(2),
});
export type BedrockConversationLine = z.infer<typeof BedrockConversationLine>;

/**
 * Amazon Nova DPO on Bedrock: the conversation as in SFT, its last turn an assistant turn with
 * `candidates` — the correction labelled `preferred`, the model's answer `non-preferred`.
 */
const Candidate = (label: "preferred" | "non-preferred") =>
  z.strictObject({ content: TextBlocks, preferenceLabel: z.literal(label) });
export const BedrockPreferenceLine = z
  .strictObject({
    schemaVersion: z.literal("bedrock-conversation-2024"),
    system: TextBlocks.optional(),
    messages: z
      .array(
        z.union([
          z.strictObject({ role: z.enum(["user", "assistant"]), content: TextBlocks }),
          z.strictObject({
            role: z.literal("assistant"),
            candidates: z.tuple([Candidate("preferred"), Candidate("non-preferred")]),
          }),
        ]),
      )
      .min(2),
  })
  .refine(({ messages }) => messages.every((m, i) => "candidates" in m === (i === messages.length - 1)), {
    message: "the last turn, and only the last, carries the candidates",
    path: ["messages"],
  });
export type BedrockPreferenceLine = z.infer<typeof BedrockPreferenceLine>;

/**
 * Amazon Nova reinforcement fine-tuning (Nova 2 Lite on Bedrock): the prompt as `messages`, the
 * correction as the `reference_answer` the grader scores the model's rollouts against.
 */
export const BedrockRftLine = z.strictObject({
  id: recordIdField,
  messages: z
    .array(z.strictObject({ role: z.enum(["system", "user", "assistant"]), content: nonBlank }))
    .min(1),
  reference_answer: nonBlank,
});
export type BedrockRftLine = z.infer<typeof BedrockRftLine>;

/**
 * Vertex AI Gemini supervised tuning: the system prompt as `systemInstruction`, the conversation
 * as `contents` with `user` and `model` turns of text `parts`.
 */
const Parts = z.array(z.strictObject({ text: nonBlank })).min(1);
export const VertexGeminiLine = z
  .strictObject({
    systemInstruction: z.strictObject({ role: z.literal("system"), parts: Parts }).optional(),
    contents: z.array(z.strictObject({ role: z.enum(["user", "model"]), parts: Parts })).min(2),
  })
  .refine(({ contents }) => contents.at(-1)?.role === "model", {
    message: "the last turn is the model's",
    path: ["contents"],
  });
export type VertexGeminiLine = z.infer<typeof VertexGeminiLine>;

const nullableText = z.string().nullable();
export const RagLine = z.strictObject({
  id: recordIdField,
  text: nonBlank,
  metadata: z.strictObject({
    candidate_id: z.string().min(1),
    question: nullableText,
    source: nullableText,
    task_type: nullableText,
    model: nullableText,
    failure_category: nullableText,
    captured_at: nullableText,
    run_id: nullableText,
    /** With `options.include_in_review`, on the documents of candidates still in review only. */
    review_status: z.literal("needs_review").optional(),
  }),
});
export type RagLine = z.infer<typeof RagLine>;

/** Bedrock Knowledge Bases reads at most 10 KB of metadata per document. */
export const MAX_KB_METADATA_BYTES = 10 * 1024;

export const BedrockKbMetadata = z
  .strictObject({
    metadataAttributes: z.record(z.string().min(1), z.union([z.string(), z.number(), z.boolean()])),
  })
  .refine((metadata) => Buffer.byteLength(JSON.stringify(metadata)) <= MAX_KB_METADATA_BYTES, {
    message: `metadata must be at most ${MAX_KB_METADATA_BYTES} bytes`,
  });
export type BedrockKbMetadata = z.infer<typeof BedrockKbMetadata>;

/** One RAG document and its Bedrock Knowledge Bases sidecar (`<name>.metadata.json`). */
export interface KbDocument {
  readonly name: string;
  readonly text: string;
  readonly metadata: BedrockKbMetadata;
}

const turn = (role: string, content: string) => ({ role, content });
const turns = (prompt: readonly ChatTurn[]) => prompt.map(({ role, content }) => turn(role, content));
const reply = (content: string) => [turn("assistant", content)];

/** Roles outside `roles`, the opening turn and the closing turn, over the whole conversation. */
function chatRules(conversation: readonly ChatTurn[], roles: ReadonlySet<string>): RuleViolation | null {
  const unsupported = conversation.findIndex((t) => !roles.has(t.role));
  if (unsupported >= 0) {
    const role = conversation[unsupported]?.role;
    return {
      rule: "unsupported_role",
      detail: `turn ${unsupported + 1} has role "${role}"; the trainer takes ${[...roles].join(", ")}`,
    };
  }
  const first = conversation.find((t) => t.role !== "system");
  if (first?.role !== "user") {
    return {
      rule: "first_turn_not_user",
      detail: `the first turn after the system prompt is ${first ? `from "${first.role}"` : "missing"}, not from the user`,
    };
  }
  const last = conversation.at(-1);
  if (last?.role !== "assistant") {
    return {
      rule: "last_turn_not_assistant",
      detail: `the last turn is from "${last?.role}", not the assistant`,
    };
  }
  return null;
}

const conversationOf = (example: TrainingExample) => [...example.prompt, turn("assistant", example.chosen)];

/**
 * Bedrock: system turns only first, then user and assistant in turn, and no reserved strings
 * anywhere (in the model's answer too, when it is the non-preferred candidate).
 */
function bedrockRules(example: TrainingExample, withRejected = false): RuleViolation | null {
  const conversation = conversationOf(example);
  const shape =
    chatRules(conversation, new Set(["system", "user", "assistant"])) ?? leadingSystemRules(conversation);
  if (shape) return shape;
  for (const [i, t] of conversation.entries()) {
    const reserved = bedrockReservedString(t.content);
    if (reserved) {
      return {
        rule: "bedrock_reserved_string",
        detail: `turn ${i + 1} (${t.role}) contains "${reserved}", which Bedrock reserves`,
      };
    }
  }
  const reserved = withRejected ? bedrockReservedString(example.rejected) : null;
  if (reserved) {
    return {
      rule: "bedrock_reserved_string",
      detail: `the model's answer (the non-preferred candidate) contains "${reserved}", which Bedrock reserves`,
    };
  }
  return null;
}

/** System turns only first, then user and assistant in turn (Bedrock, Vertex). */
function leadingSystemRules(conversation: readonly ChatTurn[]): RuleViolation | null {
  const firstOther = conversation.findIndex((t) => t.role !== "system");
  const lateSystem = conversation.findIndex((t, i) => i > firstOther && t.role === "system");
  if (lateSystem >= 0) {
    return {
      rule: "system_not_leading",
      detail: `turn ${lateSystem + 1} is a system turn after the conversation began`,
    };
  }
  const dialogue = conversation.slice(firstOther);
  const repeat = dialogue.findIndex((t, i) => i > 0 && dialogue[i - 1]?.role === t.role);
  if (repeat >= 0) {
    return {
      rule: "turns_not_alternating",
      detail: `turns ${firstOther + repeat} and ${firstOther + repeat + 1} are both from "${dialogue[repeat]?.role}"`,
    };
  }
  return null;
}

/** Nova RFT: the chat rules, a leading system prompt, and no reserved string in the prompt. */
function rftRules(example: TrainingExample): RuleViolation | null {
  const conversation = conversationOf(example);
  const general = chatRules(conversation, new Set(["system", "user", "assistant"]));
  if (general) return general;
  const firstOther = conversation.findIndex((t) => t.role !== "system");
  if (conversation.some((t, i) => i > firstOther && t.role === "system")) {
    return leadingSystemRules(conversation);
  }
  for (const [i, t] of example.prompt.entries()) {
    const reserved = bedrockReservedString(t.content);
    if (reserved) {
      return {
        rule: "bedrock_reserved_string",
        detail: `turn ${i + 1} (${t.role}) contains "${reserved}", which Bedrock reserves`,
      };
    }
  }
  return null;
}

/** Vertex AI Gemini: the chat rules, the system prompt first, then user and model in turn. */
function vertexRules(example: TrainingExample): RuleViolation | null {
  const conversation = conversationOf(example);
  return (
    chatRules(conversation, new Set(["system", "user", "assistant"])) ?? leadingSystemRules(conversation)
  );
}

/** Bedrock's shape of a conversation: system turns apart, every turn's text in blocks. */
function bedrockParts(example: TrainingExample) {
  const system = example.prompt.filter((t) => t.role === "system").map((t) => ({ text: t.content }));
  const dialogue = example.prompt
    .filter((t) => t.role !== "system")
    .map((t) => ({ role: t.role, content: [{ text: t.content }] }));
  return { schemaVersion: "bedrock-conversation-2024", ...(system.length > 0 ? { system } : {}), dialogue };
}

const openAiRoles = new Set<string>(OPENAI_ROLES);
const trlRoles = new Set<string>(TRL_ROLES);

function spec(definition: Omit<FormatSpec, "needsPrompt"> & { needsPrompt?: boolean }): FormatSpec {
  return { needsPrompt: true, ...definition };
}

export const FORMATS: Record<ExportFormat, FormatSpec> = {
  "openai-sft": spec({
    format: "openai-sft",
    schema: OpenAiSftLine,
    pairs: false,
    check: (example) => chatRules(conversationOf(example), openAiRoles),
    // Earlier assistant turns are context nobody reviewed: `weight: 0` keeps them out of the loss.
    build: (example) => [
      {
        recordId: recordId(example.candidateId, "openai-sft"),
        line: {
          messages: [
            ...example.prompt.map(({ role, content }) =>
              role === "assistant" ? { role, content, weight: 0 } : turn(role, content),
            ),
            turn("assistant", example.chosen),
          ],
        },
      },
    ],
  }),
  "openai-preference": spec({
    format: "openai-preference",
    schema: OpenAiPreferenceLine,
    pairs: true,
    check: (example) => chatRules(conversationOf(example), openAiRoles),
    build: (example) => [
      {
        recordId: recordId(example.candidateId, "openai-preference"),
        line: {
          input: { messages: turns(example.prompt) },
          preferred_output: reply(example.chosen),
          non_preferred_output: reply(example.rejected),
        },
      },
    ],
  }),
  "trl-sft": spec({
    format: "trl-sft",
    schema: TrlSftLine,
    pairs: false,
    check: (example) => chatRules(conversationOf(example), trlRoles),
    build: (example, options) => {
      const id = recordId(example.candidateId, "trl-sft");
      const line =
        options.trl_sft_style === "prompt_completion"
          ? { id, prompt: turns(example.prompt), completion: reply(example.chosen) }
          : { id, messages: [...turns(example.prompt), turn("assistant", example.chosen)] };
      return [{ recordId: id, line }];
    },
  }),
  "trl-dpo": spec({
    format: "trl-dpo",
    schema: TrlDpoLine,
    pairs: true,
    check: (example) => chatRules(conversationOf(example), trlRoles),
    build: (example) => {
      const id = recordId(example.candidateId, "trl-dpo");
      return [
        {
          recordId: id,
          line: {
            id,
            prompt: turns(example.prompt),
            chosen: reply(example.chosen),
            rejected: reply(example.rejected),
          },
        },
      ];
    },
  }),
  "trl-kto": spec({
    format: "trl-kto",
    schema: TrlKtoLine,
    pairs: true,
    check: (example) => chatRules(conversationOf(example), trlRoles),
    // The model's answer labelled undesirable, then the correction labelled desirable.
    build: (example) =>
      (
        [
          ["undesirable", example.rejected, false],
          ["desirable", example.chosen, true],
        ] as const
      ).map(([variant, completion, label]) => {
        const id = recordId(example.candidateId, "trl-kto", variant);
        return {
          recordId: id,
          line: { id, prompt: turns(example.prompt), completion: reply(completion), label },
        };
      }),
  }),
  "bedrock-conversation": spec({
    format: "bedrock-conversation",
    schema: BedrockConversationLine,
    pairs: false,
    check: bedrockRules,
    build: (example) => {
      const { dialogue, ...head } = bedrockParts(example);
      const answer = { role: "assistant", content: [{ text: example.chosen }] };
      return [
        {
          recordId: recordId(example.candidateId, "bedrock-conversation"),
          line: { ...head, messages: [...dialogue, answer] },
        },
      ];
    },
  }),
  "bedrock-preference": spec({
    format: "bedrock-preference",
    schema: BedrockPreferenceLine,
    pairs: true,
    check: (example) => bedrockRules(example, true),
    build: (example) => {
      const { dialogue, ...head } = bedrockParts(example);
      const candidates = {
        role: "assistant",
        candidates: [
          { content: [{ text: example.chosen }], preferenceLabel: "preferred" },
          { content: [{ text: example.rejected }], preferenceLabel: "non-preferred" },
        ],
      };
      return [
        {
          recordId: recordId(example.candidateId, "bedrock-preference"),
          line: { ...head, messages: [...dialogue, candidates] },
        },
      ];
    },
  }),
  "bedrock-rft": spec({
    format: "bedrock-rft",
    schema: BedrockRftLine,
    pairs: false,
    check: rftRules,
    build: (example) => {
      const id = recordId(example.candidateId, "bedrock-rft");
      return [
        { recordId: id, line: { id, messages: turns(example.prompt), reference_answer: example.chosen } },
      ];
    },
  }),
  "vertex-gemini": spec({
    format: "vertex-gemini",
    schema: VertexGeminiLine,
    pairs: false,
    check: vertexRules,
    build: (example) => {
      const system = example.prompt.filter((t) => t.role === "system").map((t) => ({ text: t.content }));
      const contents = conversationOf(example)
        .filter((t) => t.role !== "system")
        .map((t) => ({ role: t.role === "assistant" ? "model" : "user", parts: [{ text: t.content }] }));
      return [
        {
          recordId: recordId(example.candidateId, "vertex-gemini"),
          line: {
            ...(system.length > 0 ? { systemInstruction: { role: "system", parts: system } } : {}),
            contents,
          },
        },
      ];
    },
  }),
  rag: spec({
    format: "rag",
    schema: RagLine,
    pairs: false,
    needsPrompt: false,
    check: () => null,
    build: (example) => {
      const id = recordId(example.candidateId, "rag");
      const question = example.prompt.filter((t) => t.role === "user").at(-1)?.content ?? null;
      return [
        {
          recordId: id,
          line: {
            id,
            text: example.chosen,
            metadata: { candidate_id: example.candidateId, question, ...example.context },
          },
        },
      ];
    },
  }),
};

/**
 * A RAG record as a Knowledge Bases document: the text, and its metadata without empty values.
 * Knowledge Bases filters ranges (`greaterThan`, `lessThan`…) on numbers only, so beside the
 * `captured_at` string (kept for whoever reads it) goes `captured_at_epoch`: seconds since 1970.
 */
export function kbDocument(example: TrainingExample, id: string): KbDocument {
  const attributes: Record<string, string | number> = { record_id: id, candidate_id: example.candidateId };
  for (const [name, value] of Object.entries(example.context)) {
    if (typeof value === "string" && value !== "") attributes[name] = value;
  }
  const captured = example.context.captured_at ? Date.parse(example.context.captured_at) : Number.NaN;
  if (Number.isFinite(captured)) attributes.captured_at_epoch = Math.floor(captured / 1000);
  return { name: `${id}.txt`, text: example.chosen, metadata: { metadataAttributes: attributes } };
}
