// @vitest-environment happy-dom
import { mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError, NetworkError } from "../../web/src/api.ts";
import QueueView from "../../web/src/components/QueueView.vue";
import { createReviewSession, HELD_KEY } from "../../web/src/review-session.ts";
import { candidate, fakeApi, press, settle } from "./fixtures.ts";

let wrapper: VueWrapper | undefined;

async function view(items = [candidate(1), candidate(2), candidate(3)], options = {}) {
  const fake = fakeApi(items, options);
  const session = createReviewSession(fake.api);
  wrapper = mount(QueueView, {
    attachTo: document.body,
    props: {
      session,
      api: fake.api,
      helpOpen: false,
      "onUpdate:helpOpen": (open: boolean) => wrapper?.setProps({ helpOpen: open }),
    },
  });
  await settle();
  return { ...fake, session, wrapper };
}

const title = () => wrapper?.get(".card-title").text();
const textareaValue = () => (wrapper?.find("textarea").element as HTMLTextAreaElement | undefined)?.value;
const currentId = () => wrapper?.get('[data-testid="queue-card"] .mono').text();

afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  document.body.innerHTML = "";
  sessionStorage.clear();
});

describe("QueueView by keyboard", () => {
  it("shows the oldest candidate and gives its title the focus", async () => {
    await view();
    expect(currentId()).toBe("run-001");
    expect(title()).toBe("Qwen2.5-3B");
    expect(document.activeElement?.classList.contains("card-title")).toBe(true);
  });

  it("D opens the confirm step (nothing is sent), a digit picks a category, Enter confirms", async () => {
    const { api } = await view();

    press("d");
    await settle();
    expect(wrapper?.find('[data-testid="confirm-discard"]').exists()).toBe(true);
    expect(document.activeElement?.getAttribute("data-testid")).toBe("confirm-discard-button");
    expect(api.submit).not.toHaveBeenCalled();

    press("4");
    await settle();
    expect(wrapper?.get('[data-category="wrong_answer"]').attributes("aria-pressed")).toBe("true");
    press("Enter", {}, document.body);
    await settle();

    expect(api.submit).toHaveBeenCalledWith({
      id: "run-001",
      action: "discard",
      failure_category: "wrong_answer",
    });
    expect(currentId()).toBe("run-002");
  });

  it("Esc leaves the confirm step without sending anything", async () => {
    const { api } = await view();
    press("f");
    await settle();
    expect(wrapper?.find('[data-testid="confirm-flag"]').exists()).toBe(true);

    press("Escape");
    await settle();

    expect(wrapper?.find('[data-testid="confirm-flag"]').exists()).toBe(false);
    expect(api.submit).not.toHaveBeenCalled();
    expect(document.activeElement?.getAttribute("data-action")).toBe("flag");
  });

  it("C opens the focused editor; keys typed there are text, not shortcuts; Ctrl+Enter submits the trimmed text", async () => {
    const { api } = await view();
    press("c");
    await settle();
    const textarea = wrapper?.get("textarea");
    expect(document.activeElement).toBe(textarea?.element);

    await textarea?.setValue("  Answer: 27.5  ");
    press("d", {}, textarea?.element);
    press("f", {}, textarea?.element);
    await settle();
    expect(wrapper?.find('[data-testid^="confirm-"]').exists()).toBe(false);

    await textarea?.trigger("keydown", { key: "Enter", ctrlKey: true });
    await settle();

    expect(api.submit).toHaveBeenCalledWith({
      id: "run-001",
      action: "correct",
      corrected_response: "Answer: 27.5",
      failure_category: null,
    });
    expect(currentId()).toBe("run-002");
  });

  it("sends the chosen category with a correction", async () => {
    const { api } = await view();
    press("c");
    await settle();
    await wrapper?.get('[data-category="format_error"]').trigger("click");
    await wrapper?.get("textarea").setValue("fixed");
    await wrapper?.get("form").trigger("submit");
    await settle();
    expect(api.submit).toHaveBeenCalledWith(expect.objectContaining({ failure_category: "format_error" }));
  });

  it("ignores shortcuts held down or with a modifier", async () => {
    await view();
    const ctrlD = press("d", { ctrlKey: true });
    press("f", { metaKey: true });
    press("c", { repeat: true });
    await settle();
    expect(wrapper?.find('[data-testid^="confirm-"]').exists()).toBe(false);
    expect(wrapper?.find("textarea").exists()).toBe(false);
    expect(ctrlD.defaultPrevented).toBe(false);
  });

  it("keeps the typed text and shows the reason when a submit fails, then succeeds on retry", async () => {
    const { api } = await view();
    api.submit.mockRejectedValueOnce(new NetworkError(new TypeError("Failed to fetch")));
    press("c");
    await settle();
    await wrapper?.get("textarea").setValue("my careful fix");
    await wrapper?.get("form").trigger("submit");
    await settle();

    expect(wrapper?.get('[data-testid="editor-error"]').text()).toContain("could not be reached");
    expect(textareaValue()).toBe("my careful fix");
    expect(currentId()).toBe("run-001");

    await wrapper?.get("form").trigger("submit");
    await settle();
    expect(api.submit).toHaveBeenLastCalledWith(
      expect.objectContaining({ corrected_response: "my careful fix" }),
    );
    expect(currentId()).toBe("run-002");
  });

  it("keeps a draft when the editor is cancelled and reopened", async () => {
    await view();
    press("c");
    await settle();
    await wrapper?.get("textarea").setValue("half a thought");
    await wrapper?.get("textarea").trigger("keydown", { key: "Escape" });
    await settle();
    expect(wrapper?.find("textarea").exists()).toBe(false);

    press("c");
    await settle();
    expect(textareaValue()).toBe("half a thought");
  });

  it("offers a correction an undo took away as the starting draft", async () => {
    await view([{ ...candidate(1), draft_correction: "the undone fix" }, candidate(2)]);
    press("c");
    await settle();
    expect(textareaValue()).toBe("the undone fix");
  });

  it("says so and moves on when someone else decided first (409)", async () => {
    const { api, session } = await view();
    api.submit.mockRejectedValueOnce(new ApiError(409, "Candidate run-001 is discarded, not needs_review"));
    press("f");
    await settle();
    press("Enter", {}, document.body);
    await settle();

    expect(session.state.notice?.text).toContain("Someone else already decided");
    expect(currentId()).toBe("run-002");
    expect(session.state.undoStack).toHaveLength(0);
  });

  it("undo brings the item back to the front, several levels deep", async () => {
    const { api, session } = await view();
    for (const key of ["d", "f"]) {
      press(key);
      await settle();
      press("Enter", {}, document.body);
      await settle();
    }
    expect(currentId()).toBe("run-003");
    expect(session.state.remaining).toBe(1);

    press("u");
    await settle();
    expect(api.undo).toHaveBeenLastCalledWith("run-002");
    expect(currentId()).toBe("run-002");
    press("u");
    await settle();
    expect(api.undo).toHaveBeenLastCalledWith("run-001");
    expect(currentId()).toBe("run-001");
    expect(session.state.remaining).toBe(3);
  });

  it("claims candidates through next, one shown and one ahead, each leased to this reviewer", async () => {
    const { api, leased } = await view();
    expect(api.next).toHaveBeenCalledTimes(2);
    expect(api.queue).not.toHaveBeenCalled();
    expect([...leased]).toEqual(["run-001", "run-002"]);

    press("d");
    await settle();
    press("Enter", {}, document.body);
    await settle();

    expect(currentId()).toBe("run-002");
    expect([...leased]).toEqual(["run-002", "run-003"]);
  });

  it("S skips: the lease goes back, the next card shows, and the skipped one is not handed out here again", async () => {
    const { api, session, leased } = await view();
    press("s");
    await settle();

    expect(api.release).toHaveBeenCalledWith("run-001");
    expect(api.submit).not.toHaveBeenCalled();
    expect(currentId()).toBe("run-002");
    expect(api.next).toHaveBeenLastCalledWith(["run-001"]);
    expect([...leased]).toEqual(["run-002", "run-003"]);
    expect(session.state.notice?.text).toContain("Skipped run-001");
    expect(session.state.remaining).toBe(3);
  });

  it("gives back what it held on a refresh, so those candidates come back in their place", async () => {
    const { api, session, leased } = await view([candidate(1), candidate(2), candidate(3)]);
    expect([...leased]).toEqual(["run-001", "run-002"]);

    await session.load();
    await settle();

    expect(api.release).toHaveBeenCalledWith("run-001");
    expect(api.release).toHaveBeenCalledWith("run-002");
    expect(session.state.items.map((item) => item.id)).toEqual(["run-001", "run-002"]);
  });

  it("after a reload of the page, gives back the leases the tab held before", async () => {
    const storage = new Map<string, string>();
    const tab = {
      getItem: (key: string) => storage.get(key) ?? null,
      setItem: (k: string, v: string) => void storage.set(k, v),
    };
    const fake = fakeApi([candidate(1), candidate(2), candidate(3)]);
    const first = createReviewSession(fake.api, tab);
    await first.load();
    expect(JSON.parse(storage.get(HELD_KEY) ?? "[]")).toEqual(["run-001", "run-002"]);

    const reloaded = createReviewSession(fake.api, tab);
    await reloaded.load();

    expect(fake.api.release.mock.calls.map(([id]) => id).sort()).toEqual(["run-001", "run-002"]);
    expect(reloaded.state.items.map((item) => item.id)).toEqual(["run-001", "run-002"]);
  });

  it("never shows again an item decided here, even if next served it", async () => {
    const { api, session } = await view([candidate(1), candidate(2), candidate(3)]);
    press("d");
    await settle();
    press("Enter", {}, document.body);
    await settle();
    api.next.mockResolvedValueOnce({ candidate: candidate(1), lease: null });

    await session.load();
    await settle();

    expect(session.state.items.map((item) => item.id)).not.toContain("run-001");
  });

  it("? opens the cheat-sheet and Esc closes it", async () => {
    await view();
    press("?");
    await settle();
    expect(wrapper?.find('[role="dialog"]').text()).toContain("Keyboard shortcuts");
    press("Escape");
    await settle();
    expect(wrapper?.find('[role="dialog"]').exists()).toBe(false);
  });
});

describe("QueueView states", () => {
  it("shows the empty state with how to upload a run", async () => {
    await view([]);
    const empty = wrapper?.get('[data-testid="empty"]');
    expect(empty?.text()).toContain("All caught up");
    expect(empty?.text()).toContain("npx flywheel runs upload <folder>");
  });

  it("shows a load error with a retry that works", async () => {
    const fake = fakeApi([candidate(1)]);
    fake.api.next.mockRejectedValueOnce(new ApiError(503, "Service Unavailable"));
    const session = createReviewSession(fake.api);
    wrapper = mount(QueueView, {
      attachTo: document.body,
      props: { session, api: fake.api, helpOpen: false },
    });
    await settle();

    expect(wrapper.get('[data-testid="load-error"]').text()).toContain("Service Unavailable");
    await wrapper.get('[data-testid="load-error"] button').trigger("click");
    await settle();

    expect(currentId()).toBe("run-001");
  });

  it("shows a loading state while the first page is on its way", async () => {
    const fake = fakeApi([candidate(1)]);
    fake.api.next.mockReturnValueOnce(new Promise(() => {}));
    const session = createReviewSession(fake.api);
    wrapper = mount(QueueView, { props: { session, api: fake.api, helpOpen: false } });
    await settle();
    expect(wrapper.get('[data-testid="loading"]').text()).toContain("Loading the queue");
  });

  it("loads the candidate's history on demand", async () => {
    const { api } = await view();
    expect(api.candidate).not.toHaveBeenCalled();
    await wrapper?.get(".history button").trigger("click");
    await settle();
    expect(api.candidate).toHaveBeenCalledWith("run-001");
    expect(wrapper?.get(".history").text()).toContain("No decisions yet");
  });
});
