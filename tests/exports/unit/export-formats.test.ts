import { describe, expect, it } from "vitest";
import { ExportFirewall } from "../../../lib/exports/domain/export-firewall.ts";
import {
  BedrockKbMetadata,
  FORMATS,
  kbDocument,
  recordId,
  type TrainingExample,
} from "../../../lib/exports/domain/export-formats.ts";
import {
  EXPORT_FORMATS,
  type ExportFormat,
  ExportRequest,
} from "../../../lib/exports/domain/export-request.ts";
import { KNOWN_CANDIDATE } from "../../support/export-fixtures.ts";

/** The lines a format writes for the known candidate, as the dataset holds them. */
function linesOf(format: ExportFormat, options: Record<string, unknown> = {}): string[] {
  const request = ExportRequest.parse({ format, options });
  const verdict = new ExportFirewall({ format, options: request.options, filters: request.filters }).screen(
    KNOWN_CANDIDATE,
  );
  if (!verdict.passed) throw new Error(`${format}: ${JSON.stringify(verdict.entry)}`);
  return verdict.lines.map(({ line }) => JSON.stringify(line));
}

const P = `[{"role":"system","content":"Solve the problem. End with 'Answer: <number>'."},{"role":"user","content":"A train travels 55 km in 2 hours. What is its average speed in km/h?"}]`;
const C = `[{"role":"assistant","content":"Answer: 27.5"}]`;
const B = `[{"role":"assistant","content":"Answer: 110"}]`;

describe("golden lines from one reviewed candidate (prompt P, answer B, correction C)", () => {
  it("openai-sft: messages = P + C", () => {
    expect(linesOf("openai-sft")).toEqual([`{"messages":${P.slice(0, -1)},${C.slice(1)}}`]);
  });

  it("openai-preference: input.messages = P, preferred_output = C, non_preferred_output = B", () => {
    expect(linesOf("openai-preference")).toEqual([
      `{"input":{"messages":${P}},"preferred_output":${C},"non_preferred_output":${B}}`,
    ]);
  });

  it("trl-sft: the record id and messages = P + C", () => {
    expect(linesOf("trl-sft")).toEqual([
      `{"id":"c4d087c9a854bfcd3dcce89d5e8144e6","messages":${P.slice(0, -1)},${C.slice(1)}}`,
    ]);
  });

  it("trl-sft on request: prompt = P, completion = C", () => {
    expect(linesOf("trl-sft", { trl_sft_style: "prompt_completion" })).toEqual([
      `{"id":"c4d087c9a854bfcd3dcce89d5e8144e6","prompt":${P},"completion":${C}}`,
    ]);
  });

  it("trl-dpo: prompt = P, chosen = C, rejected = B", () => {
    expect(linesOf("trl-dpo")).toEqual([
      `{"id":"eff9a19a2454ee5d9943f61f1140f3d3","prompt":${P},"chosen":${C},"rejected":${B}}`,
    ]);
  });

  it("trl-kto: P + B labelled false, then P + C labelled true", () => {
    expect(linesOf("trl-kto")).toEqual([
      `{"id":"eb9316334f268395109584eb36295702","prompt":${P},"completion":${B},"label":false}`,
      `{"id":"f696f3e3d61ddb7b6064cc0252c25186","prompt":${P},"completion":${C},"label":true}`,
    ]);
  });

  it("bedrock-conversation: schemaVersion, the system prompt apart, content as text blocks", () => {
    expect(linesOf("bedrock-conversation")).toEqual([
      `{"schemaVersion":"bedrock-conversation-2024","system":[{"text":"Solve the problem. End with 'Answer: <number>'."}],"messages":[{"role":"user","content":[{"text":"A train travels 55 km in 2 hours. What is its average speed in km/h?"}]},{"role":"assistant","content":[{"text":"Answer: 27.5"}]}]}`,
    ]);
  });

  it("bedrock-preference (Nova DPO): the last assistant turn holds C preferred and B non-preferred", () => {
    expect(linesOf("bedrock-preference")).toEqual([
      `{"schemaVersion":"bedrock-conversation-2024","system":[{"text":"Solve the problem. End with 'Answer: <number>'."}],"messages":[{"role":"user","content":[{"text":"A train travels 55 km in 2 hours. What is its average speed in km/h?"}]},{"role":"assistant","candidates":[{"content":[{"text":"Answer: 27.5"}],"preferenceLabel":"preferred"},{"content":[{"text":"Answer: 110"}],"preferenceLabel":"non-preferred"}]}]}`,
    ]);
  });

  it("bedrock-rft (Nova RFT): the record id, messages = P, reference_answer = C", () => {
    expect(linesOf("bedrock-rft")).toEqual([
      `{"id":"${recordId(KNOWN_CANDIDATE.id, "bedrock-rft")}","messages":${P},"reference_answer":"Answer: 27.5"}`,
    ]);
  });

  it("vertex-gemini: systemInstruction apart, contents with user and model parts", () => {
    expect(linesOf("vertex-gemini")).toEqual([
      `{"systemInstruction":{"role":"system","parts":[{"text":"Solve the problem. End with 'Answer: <number>'."}]},"contents":[{"role":"user","parts":[{"text":"A train travels 55 km in 2 hours. What is its average speed in km/h?"}]},{"role":"model","parts":[{"text":"Answer: 27.5"}]}]}`,
    ]);
  });

  it("rag: C as a document with its metadata, and a Bedrock Knowledge Bases sidecar", () => {
    expect(linesOf("rag")).toEqual([
      `{"id":"246b89001b78f8fae265bac2f0a44be5","text":"Answer: 27.5","metadata":{"candidate_id":"2026-04-07-143022-0000007","question":"A train travels 55 km in 2 hours. What is its average speed in km/h?","source":"benchmark","task_type":"math","model":"Qwen2.5-3B","failure_category":"wrong_answer","captured_at":"2026-04-07T14:31:00.000Z","run_id":"2026-04-07-143022"}}`,
    ]);
    const example: TrainingExample = {
      candidateId: "2026-04-07-143022-0000007",
      prompt: [],
      chosen: "Answer: 27.5",
      rejected: "",
      context: {
        source: "benchmark",
        task_type: "math",
        model: null,
        failure_category: null,
        captured_at: "2026-04-07T14:31:00.000Z",
        run_id: null,
      },
    };
    const document = kbDocument(example, "246b89001b78f8fae265bac2f0a44be5");
    expect(document.name).toBe("246b89001b78f8fae265bac2f0a44be5.txt");
    expect(JSON.stringify(document.metadata)).toBe(
      `{"metadataAttributes":{"record_id":"246b89001b78f8fae265bac2f0a44be5","candidate_id":"2026-04-07-143022-0000007","source":"benchmark","task_type":"math","captured_at":"2026-04-07T14:31:00.000Z","captured_at_epoch":1775572260}}`,
    );
    expect(BedrockKbMetadata.safeParse(document.metadata).success).toBe(true);
    // A range filter needs a number: the epoch seconds of the same instant, beside the string.
    expect(new Date(1775572260 * 1000).toISOString()).toBe("2026-04-07T14:31:00.000Z");
    for (const captured_at of [null, "", "not a date"]) {
      const without = kbDocument({ ...example, context: { ...example.context, captured_at } }, "x");
      expect(without.metadata.metadataAttributes).not.toHaveProperty("captured_at_epoch");
    }
  });

  it("has a golden test for every format", () => {
    expect(EXPORT_FORMATS).toEqual([
      "openai-sft",
      "openai-preference",
      "trl-sft",
      "trl-dpo",
      "trl-kto",
      "bedrock-conversation",
      "bedrock-preference",
      "bedrock-rft",
      "vertex-gemini",
      "rag",
    ]);
  });
});

describe("record ids", () => {
  it("are a hash of the source id and the format: stable, and different per format and KTO side", () => {
    expect(recordId("a", "trl-dpo")).toBe(recordId("a", "trl-dpo"));
    const ids = new Set([
      ...EXPORT_FORMATS.map((format) => recordId("a", format)),
      recordId("b", "trl-dpo"),
      recordId("a", "trl-kto", "desirable"),
      recordId("a", "trl-kto", "undesirable"),
    ]);
    expect(ids.size).toBe(EXPORT_FORMATS.length + 3);
    expect(recordId("a", "trl-dpo")).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe("format schemas", () => {
  it.each(EXPORT_FORMATS)("%s refuses a line with an unknown key, a blank turn or a wrong role", (format) => {
    const [line] = linesOf(format);
    const parsed = JSON.parse(line as string);
    const { schema } = FORMATS[format];
    expect(schema.safeParse(parsed).success).toBe(true);
    expect(schema.safeParse({ ...parsed, extra: 1 }).success).toBe(false);
    const blanked = JSON.parse((line as string).replace(/Answer: (27\.5|110)/, " "));
    expect(schema.safeParse(blanked).success).toBe(false);
    if (format !== "rag") {
      const wrongRole = JSON.parse((line as string).replace('"role":"user"', '"role":"narrator"'));
      expect(schema.safeParse(wrongRole).success).toBe(false);
    }
  });

  it("Bedrock KB metadata stays under 10 KB", () => {
    expect(BedrockKbMetadata.safeParse({ metadataAttributes: { a: "x".repeat(11_000) } }).success).toBe(
      false,
    );
  });
});

describe("openai-sft: only the reviewed answer trains", () => {
  const conversation = {
    ...KNOWN_CANDIDATE,
    id: "eval-multi-turn",
    prompt_messages: [
      { role: "system", content: "Be brief." },
      { role: "user", content: "What is 2 + 2?" },
      { role: "assistant", content: "5" },
      { role: "user", content: "Are you sure? Double it." },
    ],
  };

  it("carries weight 0 on every assistant turn before the reviewed one, and none on the rest", () => {
    const request = ExportRequest.parse({ format: "openai-sft" });
    const verdict = new ExportFirewall({
      format: "openai-sft",
      options: request.options,
      filters: request.filters,
    }).screen(conversation);
    if (!verdict.passed) throw new Error(JSON.stringify(verdict.entry));
    expect(JSON.stringify(verdict.lines[0]?.line)).toBe(
      `{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"What is 2 + 2?"},{"role":"assistant","content":"5","weight":0},{"role":"user","content":"Are you sure? Double it."},{"role":"assistant","content":"Answer: 27.5"}]}`,
    );
  });

  it("refuses a line where an earlier assistant turn would train, or the reviewed one would not", () => {
    const { schema } = FORMATS["openai-sft"];
    const user = { role: "user", content: "q" };
    const earlier = { role: "assistant", content: "a" };
    const reviewed = { role: "assistant", content: "c" };
    expect(schema.safeParse({ messages: [user, { ...earlier, weight: 0 }, user, reviewed] }).success).toBe(
      true,
    );
    expect(schema.safeParse({ messages: [user, earlier, user, reviewed] }).success).toBe(false);
    expect(schema.safeParse({ messages: [user, { ...earlier, weight: 1 }, user, reviewed] }).success).toBe(
      false,
    );
    expect(schema.safeParse({ messages: [user, { ...reviewed, weight: 0 }] }).success).toBe(false);
    expect(schema.safeParse({ messages: [user, { ...reviewed, weight: 1 }] }).success).toBe(true);
    expect(schema.safeParse({ messages: [{ ...user, weight: 0 }, reviewed] }).success).toBe(false);
    expect(schema.safeParse({ messages: [user, { ...reviewed, weight: 0.5 }] }).success).toBe(false);
  });

  it("leaves the formats whose trainers take no per-turn weight without it", () => {
    for (const format of ["trl-sft", "trl-dpo", "openai-preference"] as const) {
      expect(linesOf(format).join("\n")).not.toContain("weight");
    }
  });
});

describe("Bedrock's reserved strings, as AWS's Nova dataset validator has them", () => {
  const screen = (format: ExportFormat, overrides: Record<string, unknown>) => {
    const request = ExportRequest.parse({ format });
    return new ExportFirewall({ format, options: request.options, filters: request.filters }).screen({
      ...KNOWN_CANDIDATE,
      ...overrides,
    });
  };
  const withUserText = (content: string) => ({
    prompt_messages: [{ role: "user", content }],
  });

  it.each([
    "USER: hi",
    "user: hi",
    "bot: ok",
    "ASSISTANT: sure",
    "Thought: step one",
    "thought: x",
    "see <IMAGE> here",
    "a <video> clip",
    "an <unk> token",
    "end [eos]",
    "sYsTeM: x",
  ])("refuses %j in any case, in both Bedrock formats", (content) => {
    for (const format of ["bedrock-conversation", "bedrock-preference"] as const) {
      const verdict = screen(format, withUserText(content));
      expect(verdict.passed, format).toBe(false);
      if (!verdict.passed) {
        expect(verdict.entry).toMatchObject({ reason: "trainer_rule", rule: "bedrock_reserved_string" });
      }
    }
  });

  it("passes text that only resembles them, and leaves other formats alone", () => {
    for (const content of ["The user said hi", "Users: 3", "image", "[EOS", "I thought about it"]) {
      expect(screen("bedrock-conversation", withUserText(content)).passed, content).toBe(true);
    }
    expect(screen("openai-sft", withUserText("USER: hi")).passed).toBe(true);
  });

  it("checks the model's answer too where it is the non-preferred candidate", () => {
    const verdict = screen("bedrock-preference", { model_response: "Assistant: 110" });
    expect(verdict.passed).toBe(false);
    if (!verdict.passed) expect(verdict.entry.detail).toContain("non-preferred");
    expect(screen("bedrock-conversation", { model_response: "Assistant: 110" }).passed).toBe(true);
  });

  it("bedrock-preference refuses candidates anywhere but the last turn, or unlabelled", () => {
    const [line] = linesOf("bedrock-preference");
    const parsed = JSON.parse(line as string);
    const { schema } = FORMATS["bedrock-preference"];
    const last = parsed.messages.at(-1);
    expect(schema.safeParse(parsed).success).toBe(true);
    expect(schema.safeParse({ ...parsed, messages: [last, ...parsed.messages] }).success).toBe(false);
    const swapped = {
      ...last,
      candidates: [last.candidates[1], last.candidates[0]],
    };
    expect(
      schema.safeParse({ ...parsed, messages: [...parsed.messages.slice(0, -1), swapped] }).success,
    ).toBe(false);
    const plain = { role: "assistant", content: [{ text: "x" }] };
    expect(schema.safeParse({ ...parsed, messages: [...parsed.messages.slice(0, -1), plain] }).success).toBe(
      false,
    );
  });
});
