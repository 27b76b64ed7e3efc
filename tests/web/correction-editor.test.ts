// @vitest-environment happy-dom
import { mount } from "@vue/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import CorrectionEditor from "../../web/src/components/CorrectionEditor.vue";

function editor(props: Record<string, unknown> = {}) {
  const wrapper = mount(CorrectionEditor, {
    attachTo: document.body,
    props: {
      text: "",
      category: null,
      "onUpdate:text": (text: string) => wrapper.setProps({ text }),
      ...props,
    },
  });
  return wrapper;
}

afterEach(() => {
  document.body.innerHTML = "";
});

describe("CorrectionEditor", () => {
  it("takes the focus when it opens, with a labelled field", () => {
    const wrapper = editor();
    const textarea = wrapper.get("textarea");

    expect(document.activeElement).toBe(textarea.element);
    expect(wrapper.get(`label[for="${textarea.attributes("id")}"]`).text()).toBe("Correct answer");
    wrapper.unmount();
  });

  it("keeps submit disabled while the text is blank", async () => {
    const wrapper = editor();
    const submit = wrapper.get('[data-testid="submit-correction"]');
    expect(submit.attributes("disabled")).toBeDefined();

    await wrapper.get("textarea").setValue("   \n\t ");
    expect(submit.attributes("disabled")).toBeDefined();
    await wrapper.get("textarea").trigger("keydown", { key: "Enter", ctrlKey: true });
    expect(wrapper.emitted("submit")).toBeUndefined();

    await wrapper.get("textarea").setValue("Answer: 27.5");
    expect(submit.attributes("disabled")).toBeUndefined();
    wrapper.unmount();
  });

  it.each([
    ["Ctrl", { ctrlKey: true }],
    ["⌘", { metaKey: true }],
  ])("submits the trimmed text with %s+Enter", async (_, modifier) => {
    const wrapper = editor();
    await wrapper.get("textarea").setValue("  \n Answer: 27.5 \n\n");

    await wrapper.get("textarea").trigger("keydown", { key: "Enter", ...modifier });

    expect(wrapper.emitted("submit")).toEqual([["Answer: 27.5"]]);
    wrapper.unmount();
  });

  it("lets a plain Enter make a new line", async () => {
    const wrapper = editor({ text: "line one" });
    await wrapper.get("textarea").trigger("keydown", { key: "Enter" });
    expect(wrapper.emitted("submit")).toBeUndefined();
    wrapper.unmount();
  });

  it("submits with the button too", async () => {
    const wrapper = editor({ text: " fixed " });
    await wrapper.get("form").trigger("submit");
    expect(wrapper.emitted("submit")).toEqual([["fixed"]]);
    wrapper.unmount();
  });

  it("cancels with Esc", async () => {
    const wrapper = editor({ text: "draft" });
    await wrapper.get("textarea").trigger("keydown", { key: "Escape" });
    expect(wrapper.emitted("cancel")).toHaveLength(1);
    wrapper.unmount();
  });

  it("shows why a submit failed and keeps the typed text", () => {
    const wrapper = editor({ text: "my careful fix", error: "Not saved: HTTP 503" });

    expect(wrapper.get('[data-testid="editor-error"]').text()).toBe("Not saved: HTTP 503");
    expect(wrapper.get('[data-testid="editor-error"]').attributes("role")).toBe("alert");
    expect((wrapper.get("textarea").element as HTMLTextAreaElement).value).toBe("my careful fix");
    expect(wrapper.get("textarea").attributes("aria-invalid")).toBe("true");
    wrapper.unmount();
  });

  it("does not submit twice while saving", async () => {
    const wrapper = editor({ text: "fix", busy: true });
    expect(wrapper.get('[data-testid="submit-correction"]').attributes("disabled")).toBeDefined();
    await wrapper.get("textarea").trigger("keydown", { key: "Enter", ctrlKey: true });
    expect(wrapper.emitted("submit")).toBeUndefined();
    wrapper.unmount();
  });

  it("offers the model's answer as a starting point", async () => {
    const wrapper = editor({ modelAnswer: "Answer: 110" });
    await wrapper.get("button.link").trigger("click");
    expect((wrapper.get("textarea").element as HTMLTextAreaElement).value).toBe("Answer: 110");
    wrapper.unmount();
  });
});
