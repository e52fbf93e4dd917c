import { describe, expect, it } from "vitest";

import { BACKOFF_CAP_MS, backoffDelay, restartSpreadMs } from "@/transport/backoff";

describe("backoffDelay", () => {
  it("doubles per attempt, jitters between 50 and 100 %, and is capped", () => {
    expect(backoffDelay(0, () => 0)).toBe(250);
    expect(backoffDelay(0, () => 1)).toBe(500);
    expect(backoffDelay(3, () => 1)).toBe(4000);
    expect(backoffDelay(50, () => 1)).toBe(BACKOFF_CAP_MS);
    expect(backoffDelay(50, () => 0)).toBe(BACKOFF_CAP_MS / 2);
  });
});

describe("restartSpreadMs", () => {
  it("reads a restart close's reconnect_within_ms hint", () => {
    expect(restartSpreadMs(1012, "server restarting; reconnect_within_ms=4750")).toBe(4750);
    expect(restartSpreadMs(1012, "server restarting; reconnect_within_ms=999999")).toBe(60_000);
  });

  it("gives no hint for other closes or reasons without one", () => {
    expect(restartSpreadMs(1012, "server restarting")).toBeNull();
    expect(restartSpreadMs(1013, "reconnect_within_ms=4000")).toBeNull();
    expect(restartSpreadMs(1006, "")).toBeNull();
  });
});
