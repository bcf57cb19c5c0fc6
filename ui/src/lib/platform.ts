/**
 * The platform the stylesheet picks its font stack for (`app.css`, `:root[data-platform]`).
 * WebKitGTK on Linux gets the generic families, which fontconfig resolves at once; the named
 * stack costs it hundreds of milliseconds on the first layout when the named fonts are missing.
 */
export type Platform = "linux" | "other";

export function platformOf(userAgent: string): Platform {
  // WebKitGTK: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/…"; Android is not a target.
  return /\bLinux\b/.test(userAgent) && !/\bAndroid\b/.test(userAgent) ? "linux" : "other";
}

/** Sets `data-platform` on the root element; call before the first layout. */
export function markPlatform(root: HTMLElement, userAgent: string): Platform {
  const platform = platformOf(userAgent);
  root.dataset.platform = platform;
  return platform;
}
