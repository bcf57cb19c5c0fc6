export type Theme = "light" | "dark" | "system";

export const THEME_STORAGE_KEY = "casebook.theme";

export function loadTheme(storage: Pick<Storage, "getItem"> | null = safeStorage()): Theme {
  const v = storage?.getItem(THEME_STORAGE_KEY);
  return v === "light" || v === "dark" || v === "system" ? v : "system";
}

export function saveTheme(theme: Theme, storage: Pick<Storage, "setItem"> | null = safeStorage()) {
  try {
    storage?.setItem(THEME_STORAGE_KEY, theme);
  } catch {
    // Storage can be unavailable (private mode, quota): the theme still applies for this session.
  }
}

/** Sets `data-theme` on the root element; "system" leaves it to `prefers-color-scheme`. */
export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement): void {
  if (theme === "system") root.removeAttribute("data-theme");
  else root.setAttribute("data-theme", theme);
}

/** The theme that is actually showing. */
export function effectiveTheme(theme: Theme): "light" | "dark" {
  if (theme !== "system") return theme;
  const dark =
    typeof matchMedia === "function" && matchMedia("(prefers-color-scheme: dark)").matches;
  return dark ? "dark" : "light";
}

/** Light → dark → light, starting from what shows now. */
export function nextTheme(theme: Theme): Theme {
  return effectiveTheme(theme) === "dark" ? "light" : "dark";
}

function safeStorage(): Storage | null {
  try {
    return typeof localStorage === "undefined" ? null : localStorage;
  } catch {
    return null;
  }
}
