import { describe, expect, it } from "vitest";

import { CHECKING, loadPasswordStrength, passwordStrength } from "@/lib/password-strength";
import { personalWords } from "@/lib/password-strength-zxcvbn";

describe("passwordStrength (zxcvbn)", () => {
  it.each([
    ["P@ssw0rd2024!", "common"],
    ["password123", "common"],
    ["qwertyuiop1", "common"],
    ["aaaaaaaaaaaaaaa", "guess"],
    ["abcdefghijklmno", "guess"],
    ["Ab1!x", ""],
  ])("refuses %s with a reason", async (pw, why) => {
    const s = await passwordStrength(pw);
    expect(s.acceptable).toBe(false);
    expect(s.score).toBeLessThan(3);
    expect(s.reason).not.toBe("");
    expect(s.reason.toLowerCase()).toContain(why);
  });

  it.each([
    "correct horse battery staple",
    "ruby ostrich canal fog",
    "mauve lantern 73 orbit",
    "Tr0ub4dor&3-plum-kite",
  ])("accepts the passphrase %s", async (pw) => {
    const s = await passwordStrength(pw);
    expect(s.acceptable).toBe(true);
    expect(s.score).toBeGreaterThanOrEqual(3);
    expect(s.label).toBe(s.score === 4 ? "Strong" : "Good");
    expect(s.reason).toBe("");
  });

  it("counts the user's own name and email as easy to guess", async () => {
    const name = "Zephyrine Quartermaine";
    const email = "zephyrine.q@example.org";
    const alone = await passwordStrength("Zephyrine Quartermaine 2026");
    const own = await passwordStrength("Zephyrine Quartermaine 2026", [name, email]);
    expect(alone.acceptable).toBe(true);
    expect(own.score).toBeLessThan(alone.score);
    expect(own.acceptable).toBe(false);
    expect(own.reason).toMatch(/name or email/);

    const mail = await passwordStrength(email, [name, email]);
    expect((await passwordStrength(email)).acceptable).toBe(true);
    expect(mail.score).toBe(0);
    expect(mail.acceptable).toBe(false);
  });

  it("splits personal inputs into the words a guesser would try", () => {
    expect(personalWords(["Ana Lopez", "ana.lopez@example.com", "x"])).toEqual([
      "ana lopez",
      "ana",
      "lopez",
      "ana.lopez@example.com",
      "example",
      "com",
    ]);
  });

  it("loads the rater once; until then the meter says CHECKING, which is never acceptable", async () => {
    expect(CHECKING.acceptable).toBe(false);
    const first = loadPasswordStrength();
    expect(loadPasswordStrength()).toBe(first);
    const rate = await first;
    expect(rate("").reason).toBe("");
  });
});
