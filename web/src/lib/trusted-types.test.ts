import { describe, expect, it } from "vitest";

import { sameOriginScriptUrl } from "@/lib/trusted-types";

describe("the default Trusted Types policy's script URLs", () => {
  const base = "https://chat.example.org/c/123";

  it("accepts this origin's scripts (the Argon2 worker's bundle, the dev server's module)", () => {
    expect(sameOriginScriptUrl("/assets/argon2-worker-abc.js", base)).toBe(
      "https://chat.example.org/assets/argon2-worker-abc.js",
    );
    expect(sameOriginScriptUrl("https://chat.example.org/src/lib/argon2-worker.ts?worker_file", base)).toBe(
      "https://chat.example.org/src/lib/argon2-worker.ts?worker_file",
    );
  });

  it("refuses other origins, other schemes and protocol-relative URLs", () => {
    for (const url of [
      "https://evil.example/x.js",
      "http://chat.example.org/assets/x.js",
      "//evil.example/x.js",
      "data:text/javascript,alert(1)",
      "blob:https://evil.example/1",
      "javascript:alert(1)",
    ]) {
      expect(() => sameOriginScriptUrl(url, base), url).toThrow(TypeError);
    }
  });
});
