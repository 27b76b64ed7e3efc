import { describe, expect, it } from "vitest";
import { TRAINER_BOUNDS, trainerWarnings } from "../../../lib/exports/domain/export-manifest.ts";
import { EXPORT_FORMATS } from "../../../lib/exports/domain/export-request.ts";

const codes = (warnings: { code: string; trainer?: string }[]) =>
  warnings.map((w) => `${w.code}:${w.trainer}`);

describe("manifest warnings: each trainer's bounds, on the formats that trainer reads", () => {
  it("puts the Bedrock preference minimum on bedrock-preference only", () => {
    for (const format of EXPORT_FORMATS) {
      const preference = codes(trainerWarnings(format, { exported: 5 })).filter((c) =>
        c.includes("Amazon Bedrock preference tuning"),
      );
      expect(preference, format).toEqual(
        format === "bedrock-preference" ? ["below_trainer_minimum:Amazon Bedrock preference tuning"] : [],
      );
    }
  });

  it("warns Bedrock's Nova bounds: 8 to 20,000 samples, 200 for Nova 2 Lite SFT", () => {
    expect(codes(trainerWarnings("bedrock-conversation", { exported: 7 }))).toEqual([
      "below_trainer_minimum:Amazon Nova fine-tuning on Bedrock",
      "below_trainer_minimum:Amazon Nova 2 Lite supervised fine-tuning on Bedrock",
    ]);
    expect(codes(trainerWarnings("bedrock-conversation", { exported: 8 }))).toEqual([
      "below_trainer_minimum:Amazon Nova 2 Lite supervised fine-tuning on Bedrock",
    ]);
    expect(trainerWarnings("bedrock-conversation", { exported: 200 })).toEqual([]);
    expect(trainerWarnings("bedrock-conversation", { exported: 20_000 })).toEqual([]);
    const [above] = trainerWarnings("bedrock-conversation", { exported: 20_001 });
    expect(above).toMatchObject({ code: "above_trainer_maximum", maximum: 20_000, actual: 20_001 });
    expect(above?.message).toContain("at most 20,000 samples; this dataset has 20,001");
    expect(codes(trainerWarnings("bedrock-preference", { exported: 20_001 }))).toEqual([
      "above_trainer_maximum:Amazon Nova fine-tuning on Bedrock",
    ]);
  });

  it("keeps OpenAI's 10 examples on the OpenAI formats, and nothing on TRL's or RAG", () => {
    expect(codes(trainerWarnings("openai-sft", { exported: 9 }))).toEqual([
      "below_trainer_minimum:OpenAI fine-tuning",
    ]);
    expect(codes(trainerWarnings("openai-preference", { exported: 9 }))).toEqual([
      "below_trainer_minimum:OpenAI fine-tuning",
    ]);
    for (const format of ["trl-dpo", "trl-kto", "rag"] as const) {
      expect(trainerWarnings(format, { exported: 0 }), format).toEqual([]);
      expect(TRAINER_BOUNDS[format]).toEqual([]);
    }
  });

  it("tells a trl-sft export in messages style that TRL trains on the prompt too, and names the option", () => {
    const [warning] = trainerWarnings("trl-sft", { exported: 100 }, { trl_sft_style: "messages" });
    expect(warning).toMatchObject({ code: "full_sequence_loss", option: "trl_sft_style" });
    expect(warning?.message).toContain('"prompt_completion"');
    expect(trainerWarnings("trl-sft", { exported: 100 }, { trl_sft_style: "prompt_completion" })).toEqual([]);
  });
});

describe("Nova RFT's bounds", () => {
  it("warns below 100 and above 20,000 samples (Nova 2 Lite RFT, as AWS's validator bounds it)", () => {
    expect(codes(trainerWarnings("bedrock-rft", { exported: 99 }))).toEqual([
      "below_trainer_minimum:Amazon Nova 2 Lite reinforcement fine-tuning on Bedrock",
    ]);
    expect(trainerWarnings("bedrock-rft", { exported: 100 })).toEqual([]);
    expect(codes(trainerWarnings("bedrock-rft", { exported: 20_001 }))).toEqual([
      "above_trainer_maximum:Amazon Nova 2 Lite reinforcement fine-tuning on Bedrock",
    ]);
  });
});
