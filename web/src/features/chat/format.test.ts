import { describe, expect, it } from "vitest";

import { dayLabel, timeLabel, typingText } from "@/features/chat/format";

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

  it("labels times as the locale does, the same for every moment of a minute", () => {
    const at = new Date(2026, 10, 27, 9, 5, 0).getTime();
    const locale = (ms: number) => new Date(ms).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    for (const ms of [at, at + 59_999, at + 60_000, at + 13 * 3600_000 + 7 * 60_000]) {
      expect(timeLabel(ms)).toBe(locale(ms));
    }
    expect(timeLabel(at + 30_000)).toBe(timeLabel(at));
  });
});
