import { describe, expect, it } from "vitest";

import { passwordStrength } from "@/lib/password-strength";

describe("passwordStrength", () => {
  it.each([
    ["password123", "common"],
    ["qwertyuiop1", "common"],
    ["aaaaaaaaaaaaaaa", "guess"],
    ["abcdefghijklmno", "guess"],
    ["Ab1!x", "at least 10"],
  ])("refuses %s with a reason", (pw, why) => {
    const s = passwordStrength(pw);
    expect(s.acceptable).toBe(false);
    expect(s.reason.toLowerCase()).toContain(why);
  });

  it("refuses a password made of the user's name", () => {
    const s = passwordStrength("AnaLopez2026", ["Ana Lopez", "ana.lopez@example.com"]);
    expect(s.acceptable).toBe(false);
    expect(s.reason).toMatch(/name or email/);
  });

  it.each(["correct horse battery staple", "Tr0ub4dor&3-plum-kite", "mauve lantern 73 orbit"])(
    "accepts %s",
    (pw) => {
      const s = passwordStrength(pw);
      expect(s.acceptable).toBe(true);
      expect(s.score).toBeGreaterThanOrEqual(3);
      expect(s.reason).toBe("");
    },
  );
});
