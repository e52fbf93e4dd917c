import { describe, expect, it } from "vitest";

import { ApiError, describeError, describeWait } from "./errors";

describe("describeWait", () => {
  it.each([
    [0.2, "1 second"],
    [1, "1 second"],
    [42, "42 seconds"],
    [59, "59 seconds"],
    [60, "about a minute"],
    [89, "about a minute"],
    [884, "about 15 minutes"],
    [3599, "about an hour"],
    [3600, "about an hour"],
    [7200, "about 2 hours"],
    [86_400, "about a day"],
    [3 * 86_400, "about 3 days"],
  ])("%s s reads as %s", (seconds, words) => {
    expect(describeWait(seconds)).toBe(words);
  });
});

describe("describeError", () => {
  it("shows a long Retry-After in words, not raw seconds", () => {
    const { detail } = describeError(new ApiError(429, "rate_limited", "slow down", 884));
    expect(detail).toContain("Try again in about 15 minutes.");
    expect(detail).not.toMatch(/\d{3} seconds/);
  });

  it("asks to wait a little when the server gave no Retry-After", () => {
    const { detail } = describeError(new ApiError(429, "rate_limited", "slow down"));
    expect(detail).toContain("Wait a little and try again.");
  });

  it("explains a taken room name", () => {
    expect(describeError(new ApiError(409, "room_name_taken", "taken")).title).toBe(
      "That room name is taken",
    );
  });

  it("does not tell a member removed from a private group to join a room", () => {
    const { title, detail } = describeError(new ApiError(403, "not_a_member", "not a member"));
    expect(title).toBe("You're not a member of this conversation");
    expect(detail).toContain("removed");
    expect(`${title} ${detail}`).not.toContain("Join this room first");
  });

  it("tells someone whose account was disabled what happened, in plain words", () => {
    const { title, detail } = describeError(new ApiError(403, "account_disabled", "disabled", null));
    expect(title).toBe("This account is disabled");
    expect(detail).toContain("administrators");
  });
});
