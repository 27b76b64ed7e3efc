import { FAILURE_CATEGORIES, type FailureCategory } from "./types.ts";

/** What the queue view is showing, which decides what a key means. */
export type ReviewMode = "idle" | "editing" | "confirming" | "help" | "busy";

export type Shortcut =
  | { readonly kind: "correct" }
  | { readonly kind: "accept" }
  | { readonly kind: "discard" }
  | { readonly kind: "flag" }
  | { readonly kind: "skip" }
  | { readonly kind: "undo" }
  | { readonly kind: "help" }
  | { readonly kind: "cancel" }
  | { readonly kind: "confirm" }
  | { readonly kind: "category"; readonly category: FailureCategory };

/** The single-key shortcuts a reviewer may turn off or move to another key (WCAG 2.1.4). */
export const REMAPPABLE = ["correct", "accept", "discard", "flag", "skip", "undo", "help"] as const;
export type Remappable = (typeof REMAPPABLE)[number];

export interface ShortcutSettings {
  /** Off: no single character key does anything (Esc, Enter and Ctrl/⌘ + Enter still work). */
  readonly enabled: boolean;
  /** The key of each shortcut, one character, lower case for letters. */
  readonly keys: Readonly<Record<Remappable, string>>;
}

export const DEFAULT_SHORTCUTS: ShortcutSettings = {
  enabled: true,
  keys: { correct: "c", accept: "a", discard: "d", flag: "f", skip: "s", undo: "u", help: "?" },
};

/** Where the settings are kept in the browser. */
export const SHORTCUTS_KEY = "flywheel.shortcuts";

/** Why a key map cannot be used (a key empty, taken twice, or a digit the categories use), or `null`. */
export function keyMapProblem(keys: Readonly<Record<Remappable, string>>): string | null {
  const seen = new Map<string, Remappable>();
  for (const name of REMAPPABLE) {
    const key = normaliseKey(keys[name] ?? "");
    if ([...key].length !== 1 || /\s/.test(key)) return `${name}: one character, not a space`;
    if (/^[1-9]$/.test(key)) return `${name}: digits 1–9 pick a failure category`;
    const other = seen.get(key);
    if (other) return `${name} and ${other} both use ${key.toUpperCase()}`;
    seen.set(key, name);
  }
  return null;
}

export const normaliseKey = (key: string) => (key.length === 1 ? key.toLowerCase() : key);

/** The settings as stored, or the defaults for anything missing or unusable. */
export function readShortcutSettings(storage: Pick<Storage, "getItem"> | null): ShortcutSettings {
  try {
    const stored = JSON.parse(storage?.getItem(SHORTCUTS_KEY) ?? "null") as Partial<ShortcutSettings> | null;
    if (!stored || typeof stored !== "object") return DEFAULT_SHORTCUTS;
    const keys = { ...DEFAULT_SHORTCUTS.keys };
    for (const name of REMAPPABLE) {
      const key = stored.keys?.[name];
      if (typeof key === "string") keys[name] = normaliseKey(key);
    }
    return {
      enabled: stored.enabled !== false,
      keys: keyMapProblem(keys) ? DEFAULT_SHORTCUTS.keys : keys,
    };
  } catch {
    return DEFAULT_SHORTCUTS;
  }
}

export function writeShortcutSettings(
  storage: Pick<Storage, "setItem"> | null,
  settings: ShortcutSettings,
): void {
  try {
    storage?.setItem(SHORTCUTS_KEY, JSON.stringify(settings));
  } catch {}
}

/** How a key reads on screen: letters upper case. */
export const keyLabel = (key: string) => (key.length === 1 ? key.toUpperCase() : key);

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
export function shortcutFor(
  event: KeyInput,
  mode: ReviewMode,
  settings: ShortcutSettings = DEFAULT_SHORTCUTS,
): Shortcut | null {
  if (event.repeat || event.isComposing) return null;
  if (event.ctrlKey || event.metaKey || event.altKey) return null;
  if (isTypingTarget(event.target)) return null;
  const key = normaliseKey(event.key);
  // Turned off: a single character key is the browser's (or the screen reader's) again.
  const single = settings.enabled && key.length === 1;

  switch (mode) {
    case "idle": {
      if (!single) return null;
      const name = REMAPPABLE.find((shortcut) => settings.keys[shortcut] === key);
      return name ? { kind: name } : null;
    }
    case "confirming": {
      if (key === "Escape") return { kind: "cancel" };
      if (key === "Enter") return isButton(event.target) ? null : { kind: "confirm" };
      const category = single ? categoryForDigit(key) : null;
      return category ? { kind: "category", category } : null;
    }
    case "editing":
      return key === "Escape" ? { kind: "cancel" } : null;
    case "help":
      return key === "Escape" || (single && key === settings.keys.help) ? { kind: "cancel" } : null;
    case "busy":
      return null;
  }
}

/** `1`…`6` pick the failure categories in their listed order. */
export function categoryForDigit(key: string): FailureCategory | null {
  if (!/^[1-9]$/.test(key)) return null;
  return FAILURE_CATEGORIES[Number(key) - 1] ?? null;
}

/** The cheat sheet's rows under `settings`: remapped keys shown as mapped, single keys gone when off. */
export function shortcutRows(settings: ShortcutSettings): readonly { keys: string; what: string }[] {
  const k = (name: Remappable) => keyLabel(settings.keys[name]);
  const rows = [
    { keys: k("correct"), what: "Correct: open the editor for the right answer", single: true },
    {
      keys: k("accept"),
      what: "Accept the suggested correction as it is, when the candidate has one",
      single: true,
    },
    { keys: "Ctrl/⌘ + Enter", what: "Submit the correction", single: false },
    { keys: k("discard"), what: "Discard (asks to confirm)", single: true },
    { keys: k("flag"), what: "Flag the model's answer (asks to confirm)", single: true },
    { keys: "1 – 6", what: "Pick a failure category while confirming", single: true },
    { keys: "Enter", what: "Confirm a discard or flag", single: false },
    { keys: k("skip"), what: "Skip: leave the candidate to another reviewer", single: true },
    { keys: k("undo"), what: "Undo the last decision", single: true },
    { keys: "Esc", what: "Cancel the editor, the confirmation or this help", single: false },
    { keys: k("help"), what: "Show or hide this help", single: true },
  ];
  return rows.filter((row) => settings.enabled || !row.single).map(({ keys, what }) => ({ keys, what }));
}

export const SHORTCUTS: readonly { keys: string; what: string }[] = [
  { keys: "C", what: "Correct: open the editor for the right answer" },
  { keys: "A", what: "Accept the suggested correction as it is, when the candidate has one" },
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
