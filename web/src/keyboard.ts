import { FAILURE_CATEGORIES, type FailureCategory } from "./types.ts";

/** What the queue view is showing, which decides what a key means. */
export type ReviewMode = "idle" | "editing" | "confirming" | "help" | "busy";

export type Shortcut =
  | { readonly kind: "correct" }
  | { readonly kind: "discard" }
  | { readonly kind: "flag" }
  | { readonly kind: "skip" }
  | { readonly kind: "undo" }
  | { readonly kind: "help" }
  | { readonly kind: "cancel" }
  | { readonly kind: "confirm" }
  | { readonly kind: "category"; readonly category: FailureCategory };

/** The parts of a `KeyboardEvent` the rules read, so they can be tested without a DOM. */
export interface KeyInput {
  readonly key: string;
  readonly repeat?: boolean;
  readonly ctrlKey?: boolean;
  readonly metaKey?: boolean;
  readonly altKey?: boolean;
  readonly isComposing?: boolean;
  readonly target?: EventTarget | null;
}

/** A field the user types into: text inputs, text areas, selects and editable content. */
export function isTypingTarget(target: EventTarget | null | undefined): boolean {
  const element = target as (Partial<HTMLElement> & { type?: string }) | null | undefined;
  if (!element || typeof element.tagName !== "string") return false;
  if (element.isContentEditable) return true;
  const tag = element.tagName.toUpperCase();
  if (tag === "TEXTAREA" || tag === "SELECT") return true;
  if (tag !== "INPUT") return false;
  const type = (element.type ?? "text").toLowerCase();
  return !["button", "submit", "reset", "checkbox", "radio", "range", "color", "file", "image"].includes(
    type,
  );
}

function isButton(target: EventTarget | null | undefined): boolean {
  const element = target as Partial<HTMLElement> | null | undefined;
  const tag = typeof element?.tagName === "string" ? element.tagName.toUpperCase() : "";
  return tag === "BUTTON" || tag === "A" || tag === "SUMMARY";
}

/**
 * The shortcut a key press means in `mode`, or `null` to leave it to the browser. Never a
 * shortcut: a repeated key (held down), a key with Ctrl, ⌘ or Alt (Ctrl/⌘+D and +F keep their
 * browser meaning), a key typed into a field (the editor handles its own Esc and Ctrl/⌘+Enter).
 * D and F only open the confirm step; Enter there confirms, unless a button has the focus, which
 * then acts as a button does.
 */
export function shortcutFor(event: KeyInput, mode: ReviewMode): Shortcut | null {
  if (event.repeat || event.isComposing) return null;
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  if (isTypingTarget(event.target)) return null;
  const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;

  switch (mode) {
    case "idle":
      if (key === "c") return { kind: "correct" };
      if (key === "d") return { kind: "discard" };
      if (key === "f") return { kind: "flag" };
      if (key === "s") return { kind: "skip" };
      if (key === "u") return { kind: "undo" };
      if (key === "?") return { kind: "help" };
      return null;
    case "confirming": {
      if (key === "Escape") return { kind: "cancel" };
      if (key === "Enter") return isButton(event.target) ? null : { kind: "confirm" };
      const category = categoryForDigit(key);
      return category ? { kind: "category", category } : null;
    }
    case "editing":
      return key === "Escape" ? { kind: "cancel" } : null;
    case "help":
      return key === "Escape" || key === "?" ? { kind: "cancel" } : null;
    case "busy":
      return null;
  }
}

/** `1`…`6` pick the failure categories in their listed order. */
export function categoryForDigit(key: string): FailureCategory | null {
  if (!/^[1-9]$/.test(key)) return null;
  return FAILURE_CATEGORIES[Number(key) - 1] ?? null;
}

export const SHORTCUTS: readonly { keys: string; what: string }[] = [
  { keys: "C", what: "Correct: open the editor for the right answer" },
  { keys: "Ctrl/⌘ + Enter", what: "Submit the correction" },
  { keys: "D", what: "Discard (asks to confirm)" },
  { keys: "F", what: "Flag the model's answer (asks to confirm)" },
  { keys: "1 – 6", what: "Pick a failure category while confirming" },
  { keys: "Enter", what: "Confirm a discard or flag" },
  { keys: "S", what: "Skip: leave the candidate to another reviewer" },
  { keys: "U", what: "Undo the last decision" },
  { keys: "Esc", what: "Cancel the editor, the confirmation or this help" },
  { keys: "?", what: "Show or hide this help" },
];
