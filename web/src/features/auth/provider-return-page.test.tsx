// @vitest-environment happy-dom
import "fake-indexeddb/auto";

import { cleanup, fireEvent, screen, waitFor } from "@testing-library/react";
import { useLocation } from "react-router";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { SignupIn } from "@/api/types";
import ProviderReturnPage from "@/features/auth/provider-return-page";
import { navigateAway } from "@/lib/navigate-away";
import type * as AccountCrypto from "@/session/account-crypto";
import { useSession } from "@/session/session";
import { browserUnlockedState } from "@/storage/unlocked-state-store";
import { fakeServer, makeAccount, PASSPHRASE } from "@/test/provider-account";
import { fakeApi, renderWithProviders, type Route } from "@/test/render";

// Argon2id needs the Web Worker: SHA-256 stands in (everything after it is the real thing).
vi.mock("@/session/account-crypto", async (importOriginal) => ({
  ...(await importOriginal<typeof AccountCrypto>()),
  derive: (await import("@/test/fast-derive")).fastDerive,
}));
vi.mock("@/lib/navigate-away", () => ({ navigateAway: vi.fn() }));

beforeEach(async () => {
  await browserUnlockedState.clear();
});
afterEach(() => {
  cleanup();
  vi.mocked(navigateAway).mockClear();
});

/** Where the page sends the browser: the session state and the router state it carries. */
function Probe() {
  const { state } = useSession();
  const location = useLocation();
  const detail = state.status === "locked" ? ` ${state.secret} ${state.reason}` : "";
  return (
    <p data-testid="probe">{`${location.pathname} ${state.status}${detail} ${JSON.stringify(location.state)}`}</p>
  );
}

const ROUTES = [
  { path: "/", element: <Probe /> },
  { path: "/settings", element: <Probe /> },
  { path: "/login", element: <Probe /> },
];

const PROVIDERS = { providers: [{ id: "google", name: "Google", kind: "oidc" }] };

function anonymousServer(route: Route = () => ({ status: 404, body: { code: "not_found" } })) {
  return fakeApi((url, init) => {
    if (url.endsWith("/auth/refresh")) return { status: 401, body: { code: "unauthenticated" } };
    if (url.endsWith("/auth/providers")) return { status: 200, body: PROVIDERS };
    return route(url, init);
  });
}

function visit(query: string, api = anonymousServer().api) {
  renderWithProviders(<ProviderReturnPage />, api, `/auth/provider?${query}`, ROUTES);
}

describe("ProviderReturnPage after an error", () => {
  it.each([
    ["provider_cancelled", "Sign-in cancelled", /You cancelled at Google/],
    ["provider_unreachable", "Can't reach Google", /did not answer/],
    ["provider_error", "Google couldn't finish the sign-in", /refused or failed/],
    ["sign_in_state_invalid", "This sign-in link no longer works", /started in another browser/],
    ["id_token_invalid", "Google's answer couldn't be verified", /nothing was signed in/],
    ["email_not_verified", "Your email isn't verified at Google", /Verify it in your Google account/],
    ["identity_linked_elsewhere", "This Google account is linked to another Hushroom account", /unlink Google there/],
    ["rate_limited", "Too many attempts", /limits how often/],
    ["something_new", "The sign-in didn't complete", /on the way back from Google/],
  ])("explains %s in plain words, in a popup and on the page", async (code, title, detail) => {
    visit(`outcome=error&code=${code}&provider=google`);
    const popup = await screen.findByRole("alertdialog");
    await waitFor(() => {
      expect(popup.textContent).toContain(title);
    });
    expect(popup.textContent).toMatch(detail);
    fireEvent.click(screen.getByRole("button", { name: "OK" }));
    expect(screen.getByRole("heading", { name: title })).toBeTruthy();
    expect(screen.getByRole("link", { name: "Back to sign in" }).getAttribute("href")).toBe("/login");
    expect(screen.getByRole("button", { name: "Try again" })).toBeTruthy();
  });

  it("sends an existing account's owner to sign in with the password and link in settings", async () => {
    visit("outcome=error&code=account_exists&provider=google");
    const popup = await screen.findByRole("alertdialog");
    await waitFor(() => {
      expect(popup.textContent).toContain("Settings → Sign-in methods");
    });
    expect(popup.textContent).toContain("You already have an account with this email");
    // Trying again would only fail again.
    expect(screen.queryByRole("button", { name: "Try again" })).toBeNull();
    expect(screen.getByRole("link", { name: "Back to sign in" })).toBeTruthy();
  });

  it("tries the same provider again", async () => {
    let sent: unknown = null;
    const { api } = anonymousServer((url, init) => {
      if (url.endsWith("/auth/providers/google/start")) {
        sent = JSON.parse(init?.body as string);
        return { status: 200, body: { authorization_url: "https://accounts.example/again", expires_in: 600 } };
      }
      return { status: 404, body: { code: "not_found" } };
    });
    visit("outcome=error&code=provider_cancelled&provider=google", api);
    fireEvent.click(await screen.findByRole("button", { name: "OK" }));
    fireEvent.click(await screen.findByRole("button", { name: "Try again" }));
    await waitFor(() => {
      expect(navigateAway).toHaveBeenCalledWith("https://accounts.example/again");
    });
    expect(sent).toMatchObject({ intent: "sign_in" });
  });
});

describe("ProviderReturnPage after a sign-in", () => {
  it("goes on to unlock a provider session that has no keys here", async () => {
    const account = await makeAccount();
    const { route } = fakeServer(account, { provider: true });
    visit("outcome=signed_in&provider=google", fakeApi(route).api);
    await waitFor(() => {
      expect(screen.getByTestId("probe").textContent).toMatch(/^\/ locked passphrase new_device/);
    });
  });

  it("says so when the session didn't stick", async () => {
    visit("outcome=signed_in&provider=google");
    expect(await screen.findByRole("heading", { name: "The sign-in didn't complete" })).toBeTruthy();
  });

  it("goes to the settings with the new link to confirm", async () => {
    visit("outcome=linked&provider=google");
    await waitFor(() => {
      expect(screen.getByTestId("probe").textContent).toContain('/settings');
    });
    expect(screen.getByTestId("probe").textContent).toContain('{"linkedProvider":"google"}');
  });
});

describe("ProviderReturnPage after a first sign-in (sign-up)", () => {
  const PENDING = {
    provider: "google",
    provider_name: "Google",
    email: "ana@gmail.example",
    display_name: "Ana Example",
    expires_in: 600,
  };

  function signupServer(onSignup?: (body: SignupIn) => ReturnType<Route> | null) {
    let created: SignupIn | null = null;
    const { api, calls } = anonymousServer((url, init) => {
      const method = init?.method ?? "GET";
      if (url.endsWith("/auth/signup") && method === "GET") return { status: 200, body: PENDING };
      if (url.endsWith("/auth/signup") && method === "POST") {
        const body = JSON.parse(init?.body as string) as SignupIn;
        const refused = onSignup?.(body) ?? null;
        if (refused !== null) return refused;
        created = body;
        return {
          status: 201,
          body: {
            access_token: "access",
            token_type: "bearer",
            expires_in: 900,
            user_id: body.user_id,
            device_id: body.device.device_id,
            session_id: "session",
            keys: "ready",
            device_certified: true,
          },
        };
      }
      if (url.endsWith("/keys/vault") && created !== null) {
        // A provider session: no password wrapping.
        return {
          status: 200,
          body: {
            user_id: created.user_id,
            sealed_vault: created.vault.sealed,
            recovery_wrapping: created.vault.recovery_wrapping,
            vault_version: 1,
          },
        };
      }
      return { status: 404, body: { code: "not_found" } };
    });
    return { api, calls, created: () => created };
  }

  function fill(passphrase = PASSPHRASE) {
    fireEvent.change(screen.getByLabelText("Chat passphrase"), { target: { value: passphrase } });
    fireEvent.change(screen.getByLabelText("Confirm chat passphrase"), { target: { value: passphrase } });
  }

  it("shows the provider's email read-only, the name to edit, and what the provider never gets", async () => {
    const { api } = signupServer();
    visit("outcome=signup&provider=google", api);
    expect(await screen.findByRole("heading", { name: "Create your Hushroom account" })).toBeTruthy();
    const email = screen.getByLabelText<HTMLInputElement>("Email");
    expect(email.value).toBe("ana@gmail.example");
    expect(email.readOnly).toBe(true);
    expect(screen.getByLabelText<HTMLInputElement>("Display name").value).toBe("Ana Example");
    expect(screen.getByTestId("provider-explainer").textContent).toMatch(
      /Google only confirms who you are.*chat passphrase unlocks, in this browser; Google never receives it, and neither does our server/s,
    );
  });

  it("refuses a weak passphrase with the meter's reason, before anything is made", async () => {
    const { api, calls } = signupServer();
    visit("outcome=signup&provider=google", api);
    await screen.findByRole("heading", { name: "Create your Hushroom account" });
    fill("password123");
    expect(await screen.findByText(/commonly used password/, {}, { timeout: 10_000 })).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));
    expect((await screen.findByRole("alertdialog")).textContent).toContain("Choose a stronger passphrase");
    expect(calls).not.toContain("POST /api/v1/auth/signup");
  });

  it("creates the account's keys under the passphrase, shows the recovery code, then enters", async () => {
    const { api, created } = signupServer();
    visit("outcome=signup&provider=google", api);
    await screen.findByRole("heading", { name: "Create your Hushroom account" });
    fireEvent.change(screen.getByLabelText("Display name"), { target: { value: "Ana" } });
    fill();
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));
    expect(
      await screen.findByText("Account created: save your recovery code", {}, { timeout: 10_000 }),
    ).toBeTruthy();
    expect(screen.getByText(/Without your chat passphrase and this code/)).toBeTruthy();

    const body = created()!;
    expect(body.display_name).toBe("Ana");
    expect(body).not.toHaveProperty("email");
    expect(body.kdf.alg).toBe("argon2id");
    expect(body.device.certificate).not.toBe("");
    // Not in the app before the code was typed back.
    expect(screen.queryByTestId("probe")).toBeNull();

    const code = screen.getByTestId("recovery-code").textContent;
    const input = screen.getByLabelText(/To continue, type group \d of 7/);
    const group = Number(input.getAttribute("data-group"));
    fireEvent.change(input, { target: { value: code.slice((group - 1) * 4, group * 4) } });
    fireEvent.click(screen.getByRole("button", { name: "Continue to Hushroom" }));
    await waitFor(() => {
      expect(screen.getByTestId("probe").textContent).toMatch(/^\/ authenticated/);
    });
    const stored = await browserUnlockedState.load();
    expect(stored?.userId).toBe(body.user_id);
    expect(stored?.deviceId).toBe(body.device.device_id);
  });

  it("says when an account with the email appeared meanwhile", async () => {
    const { api } = signupServer(() => ({ status: 409, body: { code: "email_taken" } }));
    visit("outcome=signup&provider=google", api);
    await screen.findByRole("heading", { name: "Create your Hushroom account" });
    fill();
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));
    const popup = await screen.findByRole("alertdialog", {}, { timeout: 10_000 });
    expect(popup.textContent).toContain("An account with this email exists now");
  });

  it("says when the sign-up expired, with the way back", async () => {
    const { api } = anonymousServer((url) =>
      url.endsWith("/auth/signup") ? { status: 401, body: { code: "signup_expired" } } : { status: 404 },
    );
    visit("outcome=signup&provider=google", api);
    expect(await screen.findByRole("heading", { name: "This sign-up has expired" })).toBeTruthy();
    expect(screen.getByRole("link", { name: "Back to sign in" }).getAttribute("href")).toBe("/login");
  });
});
