import { shallowRef } from "vue";
import {
  readShortcutSettings,
  SHORTCUTS_KEY,
  type ShortcutSettings,
  writeShortcutSettings,
} from "./keyboard.ts";

function browserStorage(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}

/** This browser's shortcut settings (kept in localStorage), shared by every view that reads keys. */
export const shortcutSettings = shallowRef<ShortcutSettings>(readShortcutSettings(browserStorage()));

export function saveShortcutSettings(next: ShortcutSettings): void {
  shortcutSettings.value = next;
  writeShortcutSettings(browserStorage(), next);
}

// Another tab changed them: follow.
if (typeof window !== "undefined") {
  window.addEventListener("storage", (event) => {
    if (event.key === SHORTCUTS_KEY) shortcutSettings.value = readShortcutSettings(browserStorage());
  });
}
