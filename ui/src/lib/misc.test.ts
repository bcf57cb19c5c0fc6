import { describe, expect, it } from "vitest";
import { hasCode, isApiError, toApiError } from "./errors";
import { parseTagList } from "./tags";
import { relativeTime } from "./time";
import { applyTheme, loadTheme, nextTheme, saveTheme } from "./theme";

describe("errors", () => {
  it("keeps ApiErrors and wraps anything else as internal", () => {
    const e = { code: "stale_revision", message: "ticket CB-1 changed" };
    expect(isApiError(e)).toBe(true);
    expect(toApiError(e)).toEqual(e);
    expect(hasCode(e, "stale_revision")).toBe(true);
    expect(isApiError({ code: "teapot", message: "x" })).toBe(false);
    expect(toApiError(new Error("boom"))).toEqual({ code: "internal", message: "boom" });
    expect(toApiError("plain")).toEqual({ code: "internal", message: "plain" });
    expect(toApiError(undefined).code).toBe("internal");
  });
});

describe("relativeTime", () => {
  const now = 1_000_000_000_000;
  it("reads like a person would say it", () => {
    expect(relativeTime(now - 10_000, now)).toBe("just now");
    expect(relativeTime(now - 5 * 60_000, now)).toBe("5 min ago");
    expect(relativeTime(now - 3 * 3_600_000, now)).toBe("3 h ago");
    expect(relativeTime(now - 2 * 86_400_000, now)).toBe("2 d ago");
    expect(relativeTime(now - 90 * 86_400_000, now)).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });
});

describe("tags", () => {
  it("normalizes like the Rust store", () => {
    expect(parseTagList("  VPN , Access Request,, vpn")).toEqual(["access-request", "vpn"]);
  });
});

describe("theme", () => {
  it("persists the choice and sets data-theme", () => {
    const store = new Map<string, string>();
    const storage = {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, v),
    };
    expect(loadTheme(storage)).toBe("system");
    saveTheme("dark", storage);
    expect(loadTheme(storage)).toBe("dark");
    const root = document.createElement("html");
    applyTheme("dark", root);
    expect(root.getAttribute("data-theme")).toBe("dark");
    applyTheme("system", root);
    expect(root.hasAttribute("data-theme")).toBe(false);
    expect(nextTheme("dark")).toBe("light");
    expect(nextTheme("light")).toBe("dark");
  });
});
