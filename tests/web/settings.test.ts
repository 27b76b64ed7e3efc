// @vitest-environment happy-dom
import { mount, type VueWrapper } from "@vue/test-utils";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../web/src/api.ts";
import {
  DEFAULT_SHORTCUTS,
  keyMapProblem,
  readShortcutSettings,
  SHORTCUTS_KEY,
  shortcutFor,
  shortcutRows,
} from "../../web/src/keyboard.ts";
import SettingsPage from "../../web/src/pages/SettingsPage.vue";
import { saveShortcutSettings, shortcutSettings } from "../../web/src/shortcut-settings.ts";
import { fakeApi, settle } from "./fixtures.ts";

let wrapper: VueWrapper | undefined;
afterEach(() => {
  wrapper?.unmount();
  wrapper = undefined;
  document.body.innerHTML = "";
  localStorage.clear();
  saveShortcutSettings(DEFAULT_SHORTCUTS);
});

function settingsApi(config: { bench_results_dir: string; can_change?: boolean }) {
  const fake = fakeApi([]);
  return Object.assign(fake.api, {
    config: vi.fn(async () => config),
    setConfig: vi.fn(async (dir: string) => ({ ok: true, bench_results_dir: dir })),
  });
}

describe("shortcut settings", () => {
  const idle = (key: string, settings = DEFAULT_SHORTCUTS) => shortcutFor({ key }, "idle", settings);
  const remapped = { enabled: true, keys: { ...DEFAULT_SHORTCUTS.keys, correct: "e", discard: "x" } };
  const off = { ...DEFAULT_SHORTCUTS, enabled: false };

  it("moves a shortcut to its new key and frees the old one", () => {
    expect(idle("e", remapped)).toEqual({ kind: "correct" });
    expect(idle("X", remapped)).toEqual({ kind: "discard" });
    expect(idle("c", remapped)).toBeNull();
    expect(idle("d", remapped)).toBeNull();
    expect(idle("f", remapped)).toEqual({ kind: "flag" });
  });

  it("turned off, no single character key does anything; Esc and Enter still do", () => {
    for (const key of ["c", "d", "f", "s", "u", "?"]) expect(idle(key, off)).toBeNull();
    expect(shortcutFor({ key: "4" }, "confirming", off)).toBeNull();
    expect(shortcutFor({ key: "Enter" }, "confirming", off)).toEqual({ kind: "confirm" });
    expect(shortcutFor({ key: "Escape" }, "confirming", off)).toEqual({ kind: "cancel" });
    expect(shortcutFor({ key: "Escape" }, "help", off)).toEqual({ kind: "cancel" });
    expect(shortcutRows(off).map((row) => row.keys)).toEqual(["Ctrl/⌘ + Enter", "Enter", "Esc"]);
    expect(shortcutRows(remapped)[0]).toEqual({ keys: "E", what: expect.stringContaining("Correct") });
  });

  it("refuses a key map with a blank, a repeat or a category digit", () => {
    expect(keyMapProblem(DEFAULT_SHORTCUTS.keys)).toBeNull();
    expect(keyMapProblem({ ...DEFAULT_SHORTCUTS.keys, skip: "" })).toContain("skip");
    expect(keyMapProblem({ ...DEFAULT_SHORTCUTS.keys, skip: "C" })).toBe("skip and correct both use C");
    expect(keyMapProblem({ ...DEFAULT_SHORTCUTS.keys, undo: "3" })).toContain("failure category");
  });

  it("reads what is stored, and the defaults for anything unusable", () => {
    const store = (value: string) => ({ getItem: (key: string) => (key === SHORTCUTS_KEY ? value : null) });
    expect(readShortcutSettings(store(JSON.stringify({ enabled: false, keys: { skip: "N" } })))).toEqual({
      enabled: false,
      keys: { ...DEFAULT_SHORTCUTS.keys, skip: "n" },
    });
    expect(readShortcutSettings(store("{not json"))).toEqual(DEFAULT_SHORTCUTS);
    expect(readShortcutSettings(store(JSON.stringify({ keys: { skip: "c" } })))).toEqual(DEFAULT_SHORTCUTS);
  });
});

describe("SettingsPage", () => {
  it("lets an admin change the runs prefix", async () => {
    const api = settingsApi({ bench_results_dir: "runs/", can_change: true });
    wrapper = mount(SettingsPage, { attachTo: document.body, props: { api } });
    await settle();
    expect(wrapper.find('[data-testid="prefix-read-only"]').exists()).toBe(false);
    await wrapper.get("#settings-prefix").setValue("runs/nightly/");
    await wrapper.get('[data-testid="prefix-form"]').trigger("submit");
    await settle();
    expect(api.setConfig).toHaveBeenCalledWith("runs/nightly/");
    expect(wrapper.get('[data-testid="prefix-saved"]').text()).toContain("runs/nightly/");
  });

  it("says read-only, with why, when the API says the caller may not change it", async () => {
    const api = settingsApi({ bench_results_dir: "runs/", can_change: false });
    wrapper = mount(SettingsPage, { attachTo: document.body, props: { api } });
    await settle();
    expect(wrapper.get('[data-testid="prefix-read-only"]').text()).toContain("flywheel/admin");
    expect(wrapper.get("#settings-prefix").attributes("readonly")).toBeDefined();
    expect(wrapper.find('[data-testid="prefix-form"] button[type="submit"]').exists()).toBe(false);
  });

  it("explains a 403 from an API that does not say beforehand, and turns read-only", async () => {
    const api = settingsApi({ bench_results_dir: "runs/" });
    api.setConfig.mockRejectedValueOnce(
      new ApiError(403, "This route needs the scope flywheel/admin, which local-reviewer does not hold"),
    );
    wrapper = mount(SettingsPage, { attachTo: document.body, props: { api } });
    await settle();
    await wrapper.get("#settings-prefix").setValue("runs/other/");
    await wrapper.get('[data-testid="prefix-form"]').trigger("submit");
    await settle();
    expect(wrapper.get('[data-testid="prefix-error"]').text()).toContain("may not change the runs prefix");
    expect(wrapper.get('[data-testid="prefix-error"]').attributes("role")).toBe("alert");
    expect(wrapper.find('[data-testid="prefix-read-only"]').exists()).toBe(true);
  });

  it("turns shortcuts off and remaps them, kept in localStorage", async () => {
    const api = settingsApi({ bench_results_dir: "runs/", can_change: true });
    wrapper = mount(SettingsPage, { attachTo: document.body, props: { api } });
    await settle();
    await wrapper.get('input[data-key="correct"]').setValue("e");
    await wrapper.get('[data-testid="shortcuts-form"]').trigger("submit");
    expect(shortcutSettings.value.keys.correct).toBe("e");
    expect(JSON.parse(localStorage.getItem(SHORTCUTS_KEY) ?? "{}").keys.correct).toBe("e");

    await wrapper.get('input[data-key="skip"]').setValue("E");
    expect(wrapper.get('[data-testid="save-shortcuts"]').attributes("disabled")).toBeDefined();
    expect(wrapper.get('[role="alert"]').text()).toBe("skip and correct both use E");
    await wrapper.get('input[data-key="skip"]').setValue("s");

    await wrapper.get('[data-testid="shortcuts-enabled"]').setValue(false);
    await wrapper.get('[data-testid="shortcuts-form"]').trigger("submit");
    expect(shortcutSettings.value.enabled).toBe(false);
    expect(wrapper.get('[data-testid="shortcuts-saved"]').text()).toBe(
      "Saved: single-key shortcuts are off.",
    );
  });
});
