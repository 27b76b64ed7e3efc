// @vitest-environment happy-dom
import { describe, expect, it } from "vitest";
import { isTypingTarget, type KeyInput, type ReviewMode, shortcutFor } from "../../web/src/keyboard.ts";

const element = (html: string) => {
  const host = document.createElement("div");
  host.innerHTML = html;
  return host.firstElementChild as HTMLElement;
};
const kind = (event: KeyInput, mode: ReviewMode = "idle") => shortcutFor(event, mode)?.kind ?? null;

describe("shortcutFor", () => {
  it.each([
    ["c", "correct"],
    ["C", "correct"],
    ["d", "discard"],
    ["f", "flag"],
    ["s", "skip"],
    ["u", "undo"],
    ["?", "help"],
    ["x", null],
    ["Enter", null],
  ])("maps %s to %s on the queue", (key, expected) => {
    expect(kind({ key, target: document.body })).toBe(expected);
  });

  it.each([
    ["Ctrl", { ctrlKey: true }],
    ["⌘", { metaKey: true }],
    ["Alt", { altKey: true }],
  ])("leaves %s+D and %s+F to the browser", (_, modifier) => {
    expect(kind({ key: "d", ...modifier })).toBeNull();
    expect(kind({ key: "f", ...modifier })).toBeNull();
    expect(kind({ key: "c", ...modifier })).toBeNull();
  });

  it("ignores a key held down (repeat) and keys of an input method composition", () => {
    expect(kind({ key: "d", repeat: true })).toBeNull();
    expect(kind({ key: "Enter", repeat: true }, "confirming")).toBeNull();
    expect(kind({ key: "c", isComposing: true })).toBeNull();
  });

  it.each([
    "<textarea></textarea>",
    "<input>",
    '<input type="search">',
    '<input type="email">',
    "<select><option>a</option></select>",
  ])("ignores keys typed into %s", (html) => {
    expect(kind({ key: "d", target: element(html) })).toBeNull();
    expect(kind({ key: "Escape", target: element(html) }, "confirming")).toBeNull();
  });

  it("ignores keys typed into editable content", () => {
    const editable = element('<div contenteditable="true"></div>');
    Object.defineProperty(editable, "isContentEditable", { value: true });
    expect(kind({ key: "c", target: editable })).toBeNull();
  });

  it("still acts when a button or checkbox has the focus", () => {
    expect(kind({ key: "d", target: element("<button>Discard</button>") })).toBe("discard");
    expect(kind({ key: "f", target: element('<input type="checkbox">') })).toBe("flag");
    expect(isTypingTarget(element('<input type="checkbox">'))).toBe(false);
  });

  describe("while confirming a discard or flag", () => {
    it("confirms with Enter and cancels with Esc", () => {
      expect(kind({ key: "Enter", target: document.body }, "confirming")).toBe("confirm");
      expect(kind({ key: "Escape" }, "confirming")).toBe("cancel");
    });

    it("leaves Enter on a focused button to the button (a chip toggles, Cancel cancels)", () => {
      expect(kind({ key: "Enter", target: element("<button>Cancel</button>") }, "confirming")).toBeNull();
    });

    it("picks categories with 1 to 6", () => {
      expect(shortcutFor({ key: "1" }, "confirming")).toEqual({
        kind: "category",
        category: "scoring_artifact",
      });
      expect(shortcutFor({ key: "4" }, "confirming")).toEqual({ kind: "category", category: "wrong_answer" });
      expect(shortcutFor({ key: "6" }, "confirming")).toEqual({
        kind: "category",
        category: "hallucination",
      });
      expect(shortcutFor({ key: "7" }, "confirming")).toBeNull();
      expect(shortcutFor({ key: "0" }, "confirming")).toBeNull();
    });

    it("does not start another action", () => {
      expect(kind({ key: "d" }, "confirming")).toBeNull();
      expect(kind({ key: "c" }, "confirming")).toBeNull();
      expect(kind({ key: "u" }, "confirming")).toBeNull();
    });
  });

  it("while editing only Esc means something outside the field", () => {
    expect(kind({ key: "Escape", target: element("<button>chip</button>") }, "editing")).toBe("cancel");
    expect(kind({ key: "d", target: element("<button>chip</button>") }, "editing")).toBeNull();
  });

  it("closes the cheat-sheet with Esc or ?", () => {
    expect(kind({ key: "Escape" }, "help")).toBe("cancel");
    expect(kind({ key: "?" }, "help")).toBe("cancel");
    expect(kind({ key: "d" }, "help")).toBeNull();
  });

  it("does nothing while a decision is being saved", () => {
    for (const key of ["c", "d", "f", "u", "?", "Enter", "Escape"]) expect(kind({ key }, "busy")).toBeNull();
  });
});
