import { describe, expect, it } from "vitest";

import { BACKOFF_CAP_MS, backoffDelay } from "@/transport/backoff";

describe("backoffDelay", () => {
  it("doubles per attempt, jitters between 50 and 100 %, and is capped", () => {
    expect(backoffDelay(0, () => 0)).toBe(250);
    expect(backoffDelay(0, () => 1)).toBe(500);
    expect(backoffDelay(3, () => 1)).toBe(4000);
    expect(backoffDelay(50, () => 1)).toBe(BACKOFF_CAP_MS);
    expect(backoffDelay(50, () => 0)).toBe(BACKOFF_CAP_MS / 2);
  });
});
