import { markPlatform, platformOf } from "./platform";

describe("platformOf", () => {
  it("recognises WebKitGTK on Linux", () => {
    expect(
      platformOf(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15",
      ),
    ).toBe("linux");
  });

  it("leaves macOS, Windows and Android on the named font stack", () => {
    expect(
      platformOf(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)",
      ),
    ).toBe("other");
    expect(
      platformOf(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
      ),
    ).toBe("other");
    expect(platformOf("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36")).toBe("other");
  });
});

describe("markPlatform", () => {
  it("sets the attribute the stylesheet's font rule matches", () => {
    const root = document.createElement("html");
    markPlatform(root, "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15");
    expect(root.dataset.platform).toBe("linux");
    markPlatform(root, "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5)");
    expect(root.dataset.platform).toBe("other");
  });
});
