// @vitest-environment happy-dom
import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import QueueCard from "../../web/src/components/QueueCard.vue";
import { qualityOf } from "../../web/src/format.ts";
import { candidate } from "./fixtures.ts";

describe("QueueCard", () => {
  it("shows the model, task, node and GPU, speed, quality, failure reason, prompt and answer", () => {
    const card = mount(QueueCard, { props: { candidate: candidate(1) } });

    expect(card.get("h2").text()).toBe("Qwen2.5-3B");
    expect(card.get('[data-testid="task"]').text()).toBe("math · Math: word problem");
    expect(card.get('[data-testid="placement"]').text()).toBe("heimdall · GPU 3");
    expect(card.get('[data-testid="speed"]').text()).toBe("41.7 tok/s");
    const quality = card.get('[data-testid="quality"]');
    expect(quality.text()).toBe("0.56 · fair");
    expect(quality.classes()).toContain("quality-fair");
    expect(card.get('[data-testid="failure-reason"]').text()).toContain("numeric_match: off by factor");
    const messages = card.findAll(".message");
    expect(messages.map((message) => message.get(".role").text())).toEqual(["system", "user"]);
    expect(messages[1]?.get(".content").text()).toBe("A train travels 1 km in 2 hours. What is its speed?");
    expect(card.get('[data-testid="answer"]').text()).toBe("Answer: 110");
  });

  it.each([
    [0, "0.00 · low quality", "low"],
    [0.399, "0.40 · low quality", "low"],
    [0.4, "0.40 · fair", "fair"],
    [0.699, "0.70 · fair", "fair"],
    [0.7, "0.70 · acceptable", "acceptable"],
    [1, "1.00 · acceptable", "acceptable"],
  ])("colours a score of %s by its band: %s", (score, text, band) => {
    const card = mount(QueueCard, { props: { candidate: candidate(1, { quality_score: score }) } });
    const chip = card.get('[data-testid="quality"]');
    expect(chip.text()).toBe(text);
    expect(chip.classes()).toContain(`quality-${band}`);
    expect(qualityOf(score)?.band).toBe(band);
  });

  it("renders a candidate that has nothing but its id", () => {
    const card = mount(QueueCard, { props: { candidate: { id: "bare" } } });

    expect(card.get("h2").text()).toBe("Unknown model");
    expect(card.find('[data-testid="quality"]').exists()).toBe(false);
    expect(card.find('[data-testid="failure-reason"]').exists()).toBe(false);
    expect(card.find('[data-testid="task"]').exists()).toBe(false);
    expect(card.find('[data-testid="placement"]').exists()).toBe(false);
    expect(card.find('[data-testid="speed"]').exists()).toBe(false);
    expect(card.text()).toContain("No prompt was recorded.");
    expect(card.text()).toContain("No answer was recorded.");
    expect(card.text()).toContain("bare");
  });

  it("survives fields of the wrong shape", () => {
    const odd = {
      id: "odd",
      prompt_messages: [{ role: "user", content: { parts: ["x"] } }, null, { content: "no role" }],
      quality_score: "high",
      gpu_id: "A100-2",
      tokens_per_sec: Number.NaN,
      model_name: "   ",
      model_id: "fallback-model",
    } as unknown as Parameters<typeof candidate>[1] & { id: string };
    const card = mount(QueueCard, { props: { candidate: odd } });

    expect(card.get("h2").text()).toBe("fallback-model");
    expect(card.find('[data-testid="quality"]').exists()).toBe(false);
    expect(card.get('[data-testid="placement"]').text()).toBe("GPU A100-2");
    expect(card.find('[data-testid="speed"]').exists()).toBe(false);
    expect(card.findAll(".message .role").map((role) => role.text())).toEqual(["user", "message"]);
  });

  it("collapses the prompt and reports it", async () => {
    const card = mount(QueueCard, { props: { candidate: candidate(1), promptOpen: true } });
    const details = card.get("details").element as HTMLDetailsElement;
    expect(details.open).toBe(true);
    expect(card.get("summary").text()).toBe("Prompt (2 messages)");

    details.open = false;
    await card.get("details").trigger("toggle");

    expect(card.emitted("update:promptOpen")?.at(-1)).toEqual([false]);
  });
});
