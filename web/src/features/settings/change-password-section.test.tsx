// @vitest-environment happy-dom
import "fake-indexeddb/auto";

import { cleanup, fireEvent, screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { ChangePasswordIn, RevokeDeviceIn } from "@/api/types";
import { b64urlDecode } from "@/crypto/encoding";
import { KdfParams } from "@/crypto/password";
import { openVault, unlockVault, unwrapVaultKey } from "@/crypto/vault";
import { ChangePasswordSection } from "@/features/settings/change-password-section";
import { WebCryptoDeviceKey } from "@/lib/webcrypto-device-key";
import type * as AccountCrypto from "@/session/account-crypto";
import { vaultFromWire } from "@/session/account-crypto";
import { revokeDevice } from "@/session/rekey";
import { unlockedFrom } from "@/session/unlock";
import type { UnlockedKeys } from "@/session/unlocked-keys";
import { fastDerive } from "@/test/fast-derive";
import { fakeServer, makeAccount, PASSPHRASE, type FakeAccount } from "@/test/provider-account";
import { fakeApi, renderWithProviders } from "@/test/render";

// Argon2id needs the Web Worker: SHA-256 stands in (everything after it is the real thing).
vi.mock("@/session/account-crypto", async (importOriginal) => ({
  ...(await importOriginal<typeof AccountCrypto>()),
  derive: (await import("@/test/fast-derive")).fastDerive,
}));

afterEach(cleanup);

const NEW_PASSPHRASE = "amber tundra 91 kettle";

/** The keys this browser holds once the passphrase unlocked the account. */
async function unlocked(account: FakeAccount, deviceId: string): Promise<UnlockedKeys> {
  const { keys } = await fastDerive(PASSPHRASE, KdfParams.fromJSON(account.upload.kdf));
  const wire = { ...account.upload.vault, sealed_vault: account.upload.vault.sealed };
  const [vaultKey, contents] = unlockVault(vaultFromWire(wire), account.userId, keys.passwordKey);
  return unlockedFrom(account.userId, deviceId, contents, vaultKey, 1, await WebCryptoDeviceKey.generate());
}

describe("ChangePasswordSection for an account a provider created", () => {
  async function renderSection() {
    const account = await makeAccount();
    const server = fakeServer(account, {
      provider: true,
      extra: (url) => (url.endsWith("/account/password") ? { status: 204 } : null),
    });
    const { api } = fakeApi(server.route);
    api.setAccessToken("access");
    const keys = await unlocked(account, server.deviceId);
    renderWithProviders(
      <ChangePasswordSection keys={keys} email={account.email} secret="passphrase" />,
      api,
      "/settings",
    );
    return { account, server };
  }

  function fill(current: string) {
    fireEvent.change(screen.getByLabelText("Current chat passphrase"), { target: { value: current } });
    fireEvent.change(screen.getByLabelText("New chat passphrase"), { target: { value: NEW_PASSPHRASE } });
    fireEvent.change(screen.getByLabelText("Confirm new chat passphrase"), { target: { value: NEW_PASSPHRASE } });
    fireEvent.click(screen.getByRole("button", { name: "Change chat passphrase" }));
  }

  it("is titled for the chat passphrase and re-wraps the vault key under the new one", async () => {
    const { account, server } = await renderSection();
    expect(screen.getByRole("heading", { name: "Change chat passphrase" })).toBeTruthy();
    fill(PASSPHRASE);
    expect(await screen.findByText(/Chat passphrase changed\./, {}, { timeout: 10_000 })).toBeTruthy();

    // The current passphrase was proven with the session's own parameters (prelogin would have
    // answered with a made-up salt for this account), and the wrapping came from vault/unlock.
    expect(server.seen.calls).toContain("GET /keys/vault/kdf");
    expect(server.seen.calls).toContain("POST /keys/vault/unlock");
    expect(server.seen.calls.some((c) => c.includes("prelogin"))).toBe(false);
    const sent = server.seen.bodies.get("POST /account/password") as ChangePasswordIn;
    expect(sent.current_auth_secret).toBe(account.upload.auth_secret);
    const { keys } = await fastDerive(NEW_PASSPHRASE, KdfParams.fromJSON(sent.kdf));
    const vaultKey = unwrapVaultKey(
      keys.passwordKey,
      b64urlDecode(sent.password_wrapping),
      account.userId,
      "password",
    );
    expect(openVault(vaultKey, b64urlDecode(account.upload.vault.sealed), account.userId).latestPukGeneration).toBe(1);
  });

  it("says a wrong current passphrase in its own words", async () => {
    const { server } = await renderSection();
    fill("not the passphrase");
    const popup = await screen.findByRole("alertdialog", {}, { timeout: 10_000 });
    expect(popup.textContent).toContain("Wrong current chat passphrase");
    expect(server.seen.calls).not.toContain("POST /account/password");
  });
});

describe("revokeDevice in a provider session", () => {
  it("re-keys with the vault that the passphrase unlocked", async () => {
    const account = await makeAccount();
    const other = crypto.randomUUID();
    const server = fakeServer(account, {
      provider: true,
      extra: (url) =>
        url.endsWith(`/devices/${other}/revoke`) ? { status: 200, body: { vault_version: 2, keys_version: 2 } } : null,
    });
    const { api } = fakeApi(server.route);
    api.setAccessToken("access");
    const keys = await unlocked(account, server.deviceId);
    const out = await revokeDevice(api, keys, PASSPHRASE, other);
    expect(out.keys.contents.latestPukGeneration).toBe(2);
    const sent = server.seen.bodies.get(`POST /devices/${other}/revoke`) as RevokeDeviceIn;
    expect(sent.auth_secret).toBe(account.upload.auth_secret);
    expect(server.seen.calls).toContain("POST /keys/vault/unlock");
  });
});
