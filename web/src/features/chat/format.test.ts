import { describe, expect, it } from "vitest";

import { dayLabel, typingText } from "@/features/chat/format";

describe("format", () => {
  it("names who is typing", () => {
    expect(typingText([])).toBe("");
    expect(typingText(["Ana"])).toBe("Ana is typing…");
    expect(typingText(["Ana", "Ben"])).toBe("Ana and Ben are typing…");
    expect(typingText(["Ana", "Ben", "Cy"])).toBe("Several people are typing…");
  });

  it("labels today and yesterday", () => {
    const now = new Date(2026, 10, 27, 12).getTime();
    expect(dayLabel(now - 3600_000, now)).toBe("Today");
    expect(dayLabel(now - 86_400_000, now)).toBe("Yesterday");
  });
});
