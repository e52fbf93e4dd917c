// @vitest-environment happy-dom
import "fake-indexeddb/auto";

import { cleanup, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import type { RecoveryResetIn } from "@/api/types";
import { verifyDeviceCertificate } from "@/crypto/device";
import { b64urlDecode } from "@/crypto/encoding";
import { IdentityPublicKey } from "@/crypto/identity";
import { KdfParams } from "@/crypto/password";
import { unlockVault } from "@/crypto/vault";
import { LoginPage } from "@/features/auth/auth-pages";
import { UnlockPage } from "@/features/auth/unlock-page";
import type * as AccountCrypto from "@/session/account-crypto";
import { vaultFromWire } from "@/session/account-crypto";
import { useSession } from "@/session/session";
import { browserUnlockedState } from "@/storage/unlocked-state-store";
import { fastDerive } from "@/test/fast-derive";
import {
  fakeServer,
  makeAccount,
  PASSPHRASE,
  type FakeServerOptions,
} from "@/test/provider-account";
import { fakeApi, renderWithProviders } from "@/test/render";

// Argon2id needs the Web Worker: SHA-256 stands in (everything after it is the real thing).
vi.mock("@/session/account-crypto", async (importOriginal) => ({
  ...(await importOriginal<typeof AccountCrypto>()),
  derive: (await import("@/test/fast-derive")).fastDerive,
}));

const NEW_PASSPHRASE = "amber tundra 91 kettle";

/** What `AuthedLayout` shows, without the chat engine behind it. */
function App() {
  const { state } = useSession();
  if (state.status === "locked") return <UnlockPage secret={state.secret} reason={state.reason} />;
  if (state.status === "authenticated") return <p>Unlocked as {state.userId}</p>;
  return <p>{state.status}</p>;
}

async function signedInThroughProvider(options: FakeServerOptions = {}) {
  const account = await makeAccount();
  const server = fakeServer(account, { provider: true, ...options });
  const { api } = fakeApi(server.route);
  renderWithProviders(<App />, api, "/", [{ path: "/login", element: <LoginPage /> }]);
  return { account, server, api };
}

beforeEach(async () => {
  await browserUnlockedState.clear();
});
afterEach(cleanup);

describe("UnlockPage after a provider sign-in", () => {
  it("asks for the chat passphrase and says the provider never receives it", async () => {
    await signedInThroughProvider();
    expect(await screen.findByRole("heading", { name: "Unlock your messages" })).toBeTruthy();
    expect(screen.getByLabelText("Chat passphrase")).toBeTruthy();
    await waitFor(() => {
      expect(screen.getByTestId("provider-explainer").textContent).toMatch(
        /Google only confirms who you are.*your chat passphrase unlocks, in this browser; Google never receives it, and neither does our server/s,
      );
    });
    expect(screen.getByRole("button", { name: "Unlock" })).toBeTruthy();
    expect(screen.getByRole("button", { name: "Use your recovery code instead" })).toBeTruthy();
  });

  it("says a wrong passphrase in plain words and keeps the page", async () => {
    await signedInThroughProvider();
    fireEvent.change(await screen.findByLabelText("Chat passphrase"), { target: { value: "not it at all" } });
    fireEvent.click(screen.getByRole("button", { name: "Unlock" }));
    const popup = await screen.findByRole("alertdialog");
    expect(popup.textContent).toContain("Wrong chat passphrase");
    expect(screen.getByRole("heading", { name: "Unlock your messages" })).toBeTruthy();
  });

  it("unlocks with the passphrase, certifies a new device key here and stays unlocked after a reload", async () => {
    const { account, server } = await signedInThroughProvider();
    fireEvent.change(await screen.findByLabelText("Chat passphrase"), { target: { value: PASSPHRASE } });
    fireEvent.click(screen.getByRole("button", { name: "Unlock" }));
    expect(await screen.findByText(`Unlocked as ${account.userId}`)).toBeTruthy();

    // The vault came through the proven secret, not from prelogin by email.
    expect(server.seen.calls).toContain("GET /keys/vault/kdf");
    expect(server.seen.calls).toContain("POST /keys/vault/unlock");
    expect(server.seen.calls.some((c) => c.includes("prelogin"))).toBe(false);
    // This browser's new device key, certified by the account's identity for the session's device.
    const identity = new IdentityPublicKey(b64urlDecode(account.upload.identity_key));
    const certificate = verifyDeviceCertificate(
      b64urlDecode(server.seen.certificate ?? ""),
      identity,
      account.userId,
      server.deviceId,
    );
    const stored = await browserUnlockedState.load();
    expect(stored?.deviceId).toBe(server.deviceId);
    expect(stored?.userId).toBe(account.userId);
    const publicKey = new Uint8Array(await crypto.subtle.exportKey("raw", stored!.deviceKeyPair.publicKey));
    expect(certificate.publicKey).toEqual(publicKey);

    // A reload: the stored keys open the sealed vault; nothing is asked again.
    cleanup();
    const again = fakeServer(account, { provider: true, deviceId: server.deviceId });
    renderWithProviders(<App />, fakeApi(again.route).api);
    expect(await screen.findByText(`Unlocked as ${account.userId}`)).toBeTruthy();
    expect(again.seen.calls).not.toContain("POST /keys/vault/unlock");
  });

  it("asks a password account that linked the provider for its password", async () => {
    await signedInThroughProvider({
      secret: "password",
      methods: { password: true, identities: [] },
    });
    expect(await screen.findByLabelText("Password")).toBeTruthy();
    expect(screen.getByTestId("provider-explainer").textContent).toContain("your password unlocks");
  });
});

describe("UnlockPage with the recovery code", () => {
  it("sets a new passphrase, shows the new code once, then sends the person to sign in again", async () => {
    const { account, server } = await signedInThroughProvider();
    fireEvent.click(await screen.findByRole("button", { name: "Use your recovery code instead" }));
    expect(screen.getByRole("heading", { name: "Set a new chat passphrase" })).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Recovery code"), { target: { value: account.recoveryCode } });
    fireEvent.change(screen.getByLabelText("New chat passphrase"), { target: { value: NEW_PASSPHRASE } });
    fireEvent.change(screen.getByLabelText("Confirm new chat passphrase"), {
      target: { value: NEW_PASSPHRASE },
    });
    fireEvent.click(screen.getByRole("button", { name: "Set new chat passphrase" }));
    expect(
      await screen.findByText("New chat passphrase set: here is your new recovery code", {}, { timeout: 10_000 }),
    ).toBeTruthy();

    // The email is the session's own; the new wrapping opens with the new passphrase.
    const reset = server.seen.bodies.get("POST /auth/recovery/reset-password") as RecoveryResetIn;
    expect(reset.email).toBe(account.email);
    const { keys } = await fastDerive(NEW_PASSPHRASE, KdfParams.fromJSON(reset.kdf));
    const [, contents] = unlockVault(
      vaultFromWire({ ...reset, sealed_vault: account.upload.vault.sealed }),
      account.userId,
      keys.passwordKey,
    );
    expect(contents.latestPukGeneration).toBe(1);

    const code = screen.getByTestId("recovery-code").textContent;
    const input = screen.getByLabelText(/To continue, type group \d of 7/);
    const group = Number(input.getAttribute("data-group"));
    fireEvent.change(input, { target: { value: code.slice((group - 1) * 4, group * 4) } });
    fireEvent.click(screen.getByRole("button", { name: "Continue to sign in" }));
    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeTruthy();
    expect(screen.getByText(/Your new chat passphrase is set/).getAttribute("role")).toBe("status");
    expect(await screen.findByRole("button", { name: "Continue with Google" })).toBeTruthy();
    // Signed out here too: the keys of the ended session are gone from this browser.
    await waitFor(async () => {
      expect(await browserUnlockedState.load()).toBeNull();
    });
  });

  it("says a wrong recovery code without asking for an email", async () => {
    await signedInThroughProvider();
    fireEvent.click(await screen.findByRole("button", { name: "Use your recovery code instead" }));
    const other = await makeAccount();
    fireEvent.change(screen.getByLabelText("Recovery code"), { target: { value: other.recoveryCode } });
    fireEvent.change(screen.getByLabelText("New chat passphrase"), { target: { value: NEW_PASSPHRASE } });
    fireEvent.change(screen.getByLabelText("Confirm new chat passphrase"), {
      target: { value: NEW_PASSPHRASE },
    });
    fireEvent.click(screen.getByRole("button", { name: "Set new chat passphrase" }));
    const popup = await screen.findByRole("alertdialog", {}, { timeout: 10_000 });
    expect(popup.textContent).toContain("Wrong recovery code");
  });
});
