// @vitest-environment happy-dom
import { mount } from "@vue/test-utils";
import { describe, expect, it } from "vitest";
import CategoryChips from "../../web/src/components/CategoryChips.vue";
import type { FailureCategory } from "../../web/src/types.ts";

function chips(initial: FailureCategory | null = null) {
  const wrapper = mount(CategoryChips, {
    props: {
      modelValue: initial,
      "onUpdate:modelValue": (value: FailureCategory | null) => wrapper.setProps({ modelValue: value }),
    },
  });
  return wrapper;
}

const pressed = (wrapper: ReturnType<typeof chips>) =>
  wrapper.findAll('button[aria-pressed="true"]').map((button) => button.attributes("data-category"));

describe("CategoryChips", () => {
  it("offers the six failure categories as toggle buttons in a labelled group", () => {
    const wrapper = chips();

    expect(wrapper.get("legend").text()).toContain("Failure category");
    const buttons = wrapper.findAll("button");
    expect(buttons.map((button) => button.attributes("data-category"))).toEqual([
      "scoring_artifact",
      "style_violation",
      "partial_answer",
      "wrong_answer",
      "format_error",
      "hallucination",
    ]);
    expect(buttons.map((button) => button.text())).toEqual([
      "Scoring artifact",
      "Style violation",
      "Partial answer",
      "Wrong answer",
      "Format error",
      "Hallucination",
    ]);
    for (const button of buttons) {
      expect(button.attributes("aria-pressed")).toBe("false");
      expect(button.attributes("type")).toBe("button");
    }
  });

  it("keeps a single choice: choosing another moves the selection", async () => {
    const wrapper = chips();

    await wrapper.get('[data-category="wrong_answer"]').trigger("click");
    expect(pressed(wrapper)).toEqual(["wrong_answer"]);
    await wrapper.get('[data-category="hallucination"]').trigger("click");

    expect(pressed(wrapper)).toEqual(["hallucination"]);
    expect(wrapper.emitted("update:modelValue")).toEqual([["wrong_answer"], ["hallucination"]]);
  });

  it("clears the choice when the chosen chip is clicked again", async () => {
    const wrapper = chips("format_error");

    await wrapper.get('[data-category="format_error"]').trigger("click");

    expect(pressed(wrapper)).toEqual([]);
    expect(wrapper.emitted("update:modelValue")).toEqual([[null]]);
  });

  it("shows the digit of each chip when asked", () => {
    const wrapper = mount(CategoryChips, { props: { modelValue: null, showDigits: true } });
    expect(wrapper.findAll("kbd").map((kbd) => kbd.text())).toEqual(["1", "2", "3", "4", "5", "6"]);
  });
});
