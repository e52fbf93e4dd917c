// @vitest-environment happy-dom
import "fake-indexeddb/auto";

import { cleanup, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { SignInMethods } from "@/api/types";
import ProviderReturnPage from "@/features/auth/provider-return-page";
import { SignInMethodsSection } from "@/features/settings/sign-in-methods-section";
import { navigateAway } from "@/lib/navigate-away";
import type * as AccountCrypto from "@/session/account-crypto";
import { fakeServer, makeAccount, PASSPHRASE, type FakeServerOptions } from "@/test/provider-account";
import { fakeApi, renderWithProviders } from "@/test/render";

// Argon2id needs the Web Worker: SHA-256 stands in (everything after it is the real thing).
vi.mock("@/session/account-crypto", async (importOriginal) => ({
  ...(await importOriginal<typeof AccountCrypto>()),
  derive: (await import("@/test/fast-derive")).fastDerive,
}));
vi.mock("@/lib/navigate-away", () => ({ navigateAway: vi.fn() }));

afterEach(() => {
  cleanup();
  vi.mocked(navigateAway).mockClear();
});

const GOOGLE_LINKED: SignInMethods = {
  password: false,
  identities: [
    {
      provider: "google",
      provider_name: "Google",
      email: "ana@gmail.example",
      linked_at: Date.UTC(2025, 0, 2),
      last_used_at: Date.UTC(2025, 0, 3),
    },
  ],
};

const BOTH = {
  providers: [
    { id: "google", name: "Google", kind: "oidc" },
    { id: "facebook", name: "Facebook", kind: "facebook" },
  ],
};

async function renderSection(options: FakeServerOptions & { providers?: unknown } = {}) {
  const account = await makeAccount();
  const server = fakeServer(account, {
    provider: true,
    methods: GOOGLE_LINKED,
    ...options,
    extra: (url, init) =>
      options.extra?.(url, init) ??
      (url.endsWith("/auth/providers") ? { status: 200, body: options.providers ?? BOTH } : null),
  });
  const { api } = fakeApi(server.route);
  renderWithProviders(<SignInMethodsSection secret={options.secret ?? "passphrase"} />, api, "/settings");
  return { account, server };
}

describe("SignInMethodsSection", () => {
  it("lists the linked providers and offers to link the others", async () => {
    await renderSection();
    expect(await screen.findByRole("heading", { name: "Sign-in methods" })).toBeTruthy();
    const google = await screen.findByTestId("sign-in-identity");
    expect(google.textContent).toContain("Google");
    expect(google.textContent).toContain("ana@gmail.example");
    expect(google.textContent).toMatch(/Last used/);
    expect(screen.getByRole("button", { name: "Unlink Google" })).toBeTruthy();
    expect(await screen.findByRole("button", { name: "Link Facebook" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Link Google" })).toBeNull();
    // A provider-created account has no password to list.
    expect(screen.queryByText("Email and password")).toBeNull();
  });

  it("lists the password of an account that has one", async () => {
    await renderSection({ secret: "password", methods: { password: true, identities: [] } });
    expect(await screen.findByText("Email and password")).toBeTruthy();
    expect(await screen.findByRole("button", { name: "Link Google" })).toBeTruthy();
  });

  it("shows nothing on a server without providers, for an account without links", async () => {
    const { server } = await renderSection({ providers: { providers: [] }, methods: { password: true, identities: [] } });
    await waitFor(() => {
      expect(server.seen.calls).toContain("GET /account/sign-in-methods");
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.queryByRole("heading", { name: "Sign-in methods" })).toBeNull();
  });

  it("links a provider after the passphrase proves itself, with this session's token", async () => {
    let auth: string | null = null;
    const { account, server } = await renderSection({
      extra: (url, init) => {
        if (!url.endsWith("/auth/providers/facebook/start")) return null;
        auth = new Headers(init?.headers).get("Authorization");
        return { status: 200, body: { authorization_url: "https://facebook.example/dialog", expires_in: 600 } };
      },
    });
    fireEvent.click(await screen.findByRole("button", { name: "Link Facebook" }));
    fireEvent.change(screen.getByLabelText("Chat passphrase"), { target: { value: PASSPHRASE } });
    fireEvent.click(screen.getByRole("button", { name: "Continue to Facebook" }));
    await waitFor(() => {
      expect(navigateAway).toHaveBeenCalledWith("https://facebook.example/dialog");
    });
    expect(server.seen.bodies.get("POST /auth/providers/facebook/start")).toEqual({
      intent: "link",
      auth_secret: account.upload.auth_secret,
    });
    expect(auth).toBe("Bearer access");
    // Its parameters came from the session, not from prelogin by email.
    expect(server.seen.calls).toContain("GET /keys/vault/kdf");
  });

  it("asks a password account for its current password, and says a wrong one plainly", async () => {
    const { server } = await renderSection({
      secret: "password",
      methods: { password: true, identities: [] },
      extra: (url) =>
        url.endsWith("/auth/providers/google/start")
          ? { status: 401, body: { code: "invalid_credentials", title: "invalid credentials" } }
          : null,
    });
    fireEvent.click(await screen.findByRole("button", { name: "Link Google" }));
    fireEvent.change(screen.getByLabelText("Current password"), { target: { value: "not my password" } });
    fireEvent.click(screen.getByRole("button", { name: "Continue to Google" }));
    expect((await screen.findByRole("alertdialog")).textContent).toContain("Wrong password");
    expect(navigateAway).not.toHaveBeenCalled();
    // A wrong password is no stale token: asked once, no refresh and retry.
    expect(server.seen.calls.filter((c) => c === "POST /auth/providers/google/start")).toHaveLength(1);
  });

  it("unlinks after asking, and says why the only way to sign in can't go", async () => {
    let refuse = false;
    const { server } = await renderSection({
      methods: {
        password: false,
        identities: [
          ...GOOGLE_LINKED.identities,
          { provider: "facebook", provider_name: "Facebook", email: null, linked_at: 1, last_used_at: null },
        ],
      },
      extra: (_url, init) => {
        if (init?.method !== "DELETE") return null;
        return refuse
          ? { status: 409, body: { code: "last_sign_in_method" } }
          : { status: 204 };
      },
    });
    const declined = vi.fn<(message?: string) => boolean>().mockReturnValue(false);
    window.confirm = declined;
    fireEvent.click(await screen.findByRole("button", { name: "Unlink Facebook" }));
    expect(declined).toHaveBeenCalledWith("Unlink Facebook? You won't be able to sign in with Facebook any more.");
    expect(server.seen.calls.some((c) => c.startsWith("DELETE"))).toBe(false);

    window.confirm = vi.fn<(message?: string) => boolean>().mockReturnValue(true);
    fireEvent.click(screen.getByRole("button", { name: "Unlink Facebook" }));
    expect(await screen.findByText("Facebook is unlinked. It no longer signs you in.")).toBeTruthy();
    expect(server.seen.calls).toContain("DELETE /account/identities/facebook");

    refuse = true;
    fireEvent.click(screen.getByRole("button", { name: "Unlink Google" }));
    expect((await screen.findByRole("alertdialog")).textContent).toContain("This is your only way to sign in");
  });

  it("confirms a link the provider just made", async () => {
    const account = await makeAccount();
    const server = fakeServer(account, {
      provider: true,
      methods: GOOGLE_LINKED,
      extra: (url) => (url.endsWith("/auth/providers") ? { status: 200, body: BOTH } : null),
    });
    renderWithProviders(<ProviderReturnPage />, fakeApi(server.route).api, "/auth/provider?outcome=linked&provider=google", [
      { path: "/settings", element: <SignInMethodsSection secret="passphrase" /> },
    ]);
    expect(await screen.findByText("Google now signs you in to this account.")).toBeTruthy();
  });
});
