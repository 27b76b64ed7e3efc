// @vitest-environment happy-dom
import { mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import QueueCard from "../../web/src/components/QueueCard.vue";
import QueueView from "../../web/src/components/QueueView.vue";
import { DEFAULT_SHORTCUTS, shortcutFor, shortcutRows } from "../../web/src/keyboard.ts";
import { createReviewSession } from "../../web/src/review-session.ts";
import { saveShortcutSettings } from "../../web/src/shortcut-settings.ts";
import { changeCount, suggestionOf, wordDiff } from "../../web/src/suggestion.ts";
import type { Suggestion } from "../../web/src/types.ts";
import { candidate, fakeApi, press, settle } from "./fixtures.ts";

const suggestion: Suggestion = {
  id: "job-1",
  text: "The speed is 55 km/h.\nAnswer: 55",
  model: "gpt-x",
  backend: "openai",
  prompt_version: "suggest-1",
  suggested_at: "2026-05-01T09:00:00.000Z",
};

let wrapper: VueWrapper | undefined;

afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  document.body.innerHTML = "";
  sessionStorage.clear();
  saveShortcutSettings(DEFAULT_SHORTCUTS);
});

describe("the word diff", () => {
  it("keeps what both say and marks the words the suggestion adds and removes, spacing included", () => {
    const parts = wordDiff("Answer: 110", "The speed is 55 km/h.\nAnswer: 55");
    expect(
      parts
        .filter((p) => p.kind !== "added")
        .map((p) => p.text)
        .join(""),
    ).toBe("Answer: 110");
    expect(
      parts
        .filter((p) => p.kind !== "removed")
        .map((p) => p.text)
        .join(""),
    ).toBe("The speed is 55 km/h.\nAnswer: 55");
    expect(parts.find((p) => p.kind === "removed")?.text).toBe("110");
    expect(changeCount(parts)).toEqual({ added: 6, removed: 1 });
    expect(wordDiff("same words", "same words")).toEqual([{ kind: "same", text: "same words" }]);
  });

  it("reads a candidate's suggestion only in the shape a suggestion job writes", () => {
    expect(suggestionOf({ suggestion })).toEqual(suggestion);
    expect(suggestionOf({ suggestion: { ...suggestion, text: "  " } })).toBeNull();
    expect(suggestionOf({ suggestion: "text" as never })).toBeNull();
    expect(suggestionOf({})).toBeNull();
  });
});

describe("a suggestion on the queue card", () => {
  it("is shown as a diff against the model's answer, with its model, prompt version and the key that accepts it", () => {
    wrapper = mount(QueueCard, { props: { candidate: candidate(1, { suggestion }), acceptKey: "A" } });
    const shown = wrapper.get('[data-testid="suggestion"]');
    expect(shown.get('[data-testid="suggestion-source"]').text()).toBe("gpt-x · suggest-1");
    expect(shown.findAll("del").map((d) => d.text())).toEqual(["110"]);
    expect(
      shown
        .findAll("ins")
        .map((i) => i.text())
        .join("|"),
    ).toContain("55");
    expect(shown.get('[data-testid="suggestion-changes"]').text()).toContain("6 words added, 1 word removed");
    expect(shown.get("kbd").text()).toBe("A");
  });

  it("is not shown when the candidate has none", () => {
    wrapper = mount(QueueCard, { props: { candidate: candidate(1) } });
    expect(wrapper.find('[data-testid="suggestion"]').exists()).toBe(false);
  });
});

async function view(items = [candidate(1, { suggestion }), candidate(2)]) {
  const fake = fakeApi(items);
  const session = createReviewSession(fake.api);
  wrapper = mount(QueueView, {
    attachTo: document.body,
    props: { session, api: fake.api, helpOpen: false },
  });
  await settle();
  return fake;
}

const currentId = () => wrapper?.get('[data-testid="queue-card"] .mono').text();

describe("accepting or editing a suggestion", () => {
  it("A submits the suggestion as the correction, naming it, and moves on", async () => {
    const { api } = await view();
    expect(wrapper?.get('[data-action="accept"]').text()).toContain("Accept suggestion");

    press("a");
    await settle();

    expect(api.submit).toHaveBeenCalledWith({
      id: "run-001",
      action: "correct",
      corrected_response: suggestion.text,
      failure_category: null,
      suggestion_id: "job-1",
    });
    expect(currentId()).toBe("run-002");
    // No suggestion here: A does nothing and offers nothing.
    expect(wrapper?.find('[data-action="accept"]').exists()).toBe(false);
    press("a");
    await settle();
    expect(api.submit).toHaveBeenCalledTimes(1);
  });

  it("C opens the editor on the suggestion; an edit is sent naming it, for the server to compare", async () => {
    const { api } = await view();
    press("c");
    await settle();
    const textarea = wrapper?.get("textarea");
    expect((textarea?.element as HTMLTextAreaElement | undefined)?.value).toBe(suggestion.text);
    await textarea?.setValue("Answer: 55");
    await textarea?.trigger("keydown", { key: "Enter", ctrlKey: true });
    await settle();
    expect(api.submit).toHaveBeenCalledWith(
      expect.objectContaining({ corrected_response: "Answer: 55", suggestion_id: "job-1" }),
    );
  });

  it("starting over from the model's answer sends no suggestion", async () => {
    const { api } = await view();
    press("c");
    await settle();
    await wrapper?.get(".hint button:last-of-type").trigger("click");
    await wrapper?.get("textarea").setValue("Answer: 55.0");
    await wrapper?.get("form").trigger("submit");
    await settle();
    const sent = api.submit.mock.calls[0]?.[0];
    expect(sent).toMatchObject({ corrected_response: "Answer: 55.0" });
    expect(sent).not.toHaveProperty("suggestion_id");
  });

  it("the accept key is remapped or turned off like every single-key shortcut", async () => {
    expect(shortcutFor({ key: "a" }, "idle")).toEqual({ kind: "accept" });
    const moved = { ...DEFAULT_SHORTCUTS, keys: { ...DEFAULT_SHORTCUTS.keys, accept: "y" } };
    expect(shortcutFor({ key: "a" }, "idle", moved)).toBeNull();
    expect(shortcutFor({ key: "y" }, "idle", moved)).toEqual({ kind: "accept" });
    expect(shortcutFor({ key: "a" }, "idle", { ...DEFAULT_SHORTCUTS, enabled: false })).toBeNull();
    expect(shortcutRows(moved).find((row) => row.what.startsWith("Accept"))?.keys).toBe("Y");

    saveShortcutSettings({ ...DEFAULT_SHORTCUTS, enabled: false });
    const { api } = await view();
    press("a");
    await settle();
    expect(api.submit).not.toHaveBeenCalled();
    await wrapper?.get('[data-action="accept"]').trigger("click");
    await settle();
    expect(api.submit).toHaveBeenCalledWith(expect.objectContaining({ suggestion_id: "job-1" }));
  });
});
