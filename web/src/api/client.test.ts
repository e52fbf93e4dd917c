import { describe, expect, it } from "vitest";

import { ApiClient, type FetchLike } from "@/api/client";
import { ApiError, describeError, NetworkError } from "@/api/errors";

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", ...headers },
  });
}

describe("ApiClient", () => {
  it("refreshes once through the cookie on 401 and retries with the new token", async () => {
    const calls: { url: string; auth: string | null; credentials: RequestCredentials | undefined }[] = [];
    const fetcher: FetchLike = (url, init) => {
      const headers = new Headers(init?.headers);
      calls.push({ url, auth: headers.get("Authorization"), credentials: init?.credentials });
      if (url === "/api/v1/auth/refresh") {
        return Promise.resolve(
          json(200, { access_token: "new", token_type: "bearer", expires_in: 900, user_id: "u", device_id: "d", session_id: "s" }),
        );
      }
      return Promise.resolve(
        headers.get("Authorization") === "Bearer new"
          ? json(200, [])
          : json(401, { code: "token_invalid", title: "expired", status: 401 }),
      );
    };
    const api = new ApiClient(fetcher);
    const seen: (string | null)[] = [];
    api.setTokenListener((t) => seen.push(t?.access_token ?? null));
    api.setAccessToken("old");
    expect(await api.conversations()).toEqual([]);
    expect(calls.map((c) => [c.url, c.auth])).toEqual([
      ["/api/v1/conversations", "Bearer old"],
      ["/api/v1/auth/refresh", null],
      ["/api/v1/conversations", "Bearer new"],
    ]);
    expect(calls.every((c) => c.credentials === "same-origin")).toBe(true);
    expect(seen).toEqual(["new"]);
  });

  it("doesn't refresh and retry when a wrong password or passphrase is refused", async () => {
    const calls: string[] = [];
    const api = new ApiClient((url) => {
      calls.push(url);
      return Promise.resolve(json(401, { code: "invalid_credentials", title: "invalid credentials" }));
    });
    api.setAccessToken("live");
    await expect(api.unlockVault("c2VjcmV0")).rejects.toMatchObject({ status: 401, code: "invalid_credentials" });
    // One guess counts once toward the login limits.
    expect(calls).toEqual(["/api/v1/keys/vault/unlock"]);
    expect(api.hasToken).toBe(true);
  });

  it("sends a link start with the session's token, a sign-in start without", async () => {
    const seen: [string, string | null][] = [];
    const api = new ApiClient((_url, init) => {
      seen.push([JSON.parse(init?.body as string).intent, new Headers(init?.headers).get("Authorization")]);
      return Promise.resolve(json(200, { authorization_url: "https://idp.example/auth", expires_in: 600 }));
    });
    api.setAccessToken("live");
    await api.startProvider("google", { intent: "sign_in", device_name: "Firefox" });
    await api.startProvider("google", { intent: "link", auth_secret: "c2VjcmV0" });
    expect(seen).toEqual([
      ["sign_in", null],
      ["link", "Bearer live"],
    ]);
  });

  it("reports a dead session when the refresh is refused", async () => {
    const api = new ApiClient((url) =>
      Promise.resolve(json(401, { code: url === "" ? "never" : "token_invalid" })),
    );
    const seen: unknown[] = [];
    api.setTokenListener((t) => seen.push(t));
    api.setAccessToken("old");
    await expect(api.conversations()).rejects.toMatchObject({ status: 401, code: "token_invalid" });
    expect(seen).toEqual([null]);
    expect(api.hasToken).toBe(false);
  });

  it("turns problems, throttling and unreachable servers into plain words", async () => {
    const throttled = new ApiClient(() =>
      Promise.resolve(json(429, { code: "rate_limited", title: "slow down" }, { "Retry-After": "30" })),
    );
    const error = await throttled.prelogin("a@b.c").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(describeError(error).detail).toContain("30 seconds");

    const down = new ApiClient(() => Promise.reject(new TypeError("Failed to fetch")));
    const offline = await down.prelogin("a@b.c").catch((e: unknown) => e);
    expect(offline).toBeInstanceOf(NetworkError);
    expect(describeError(offline).title).toBe("Can't reach the server");

    const wrong = describeError(new ApiError(401, "invalid_credentials", "login failed"));
    expect(wrong.title).toBe("Wrong email or password");
    expect(describeError(new ApiError(500, "internal_error", "x")).title).toMatch(/server/);
  });
});
