// @vitest-environment happy-dom
import "fake-indexeddb/auto";

import { cleanup, screen } from "@testing-library/react";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import { WebCryptoDeviceKey } from "@/lib/webcrypto-device-key";
import type * as AccountCrypto from "@/session/account-crypto";
import { useSession } from "@/session/session";
import { browserUnlockedState } from "@/storage/unlocked-state-store";
import { fakeServer, makeAccount } from "@/test/provider-account";
import { fakeApi, renderWithProviders } from "@/test/render";

// Argon2id needs the Web Worker: SHA-256 stands in (everything after it is the real thing).
vi.mock("@/session/account-crypto", async (importOriginal) => ({
  ...(await importOriginal<typeof AccountCrypto>()),
  derive: (await import("@/test/fast-derive")).fastDerive,
}));

function State() {
  const { state } = useSession();
  const detail = state.status === "locked" ? ` ${state.secret} ${state.reason}` : "";
  return <p data-testid="state">{`${state.status}${detail}`}</p>;
}

async function stateText(): Promise<string> {
  const found = await screen.findByText(/^(anonymous|locked|authenticated)/);
  return found.textContent;
}

beforeEach(async () => {
  await browserUnlockedState.clear();
});
afterEach(cleanup);

describe("the session at start-up, without this browser's keys", () => {
  it("locks a provider session and names the secret the vault/kdf answer names", async () => {
    const account = await makeAccount();
    const { route, seen } = fakeServer(account, { provider: true, secret: "passphrase" });
    renderWithProviders(<State />, fakeApi(route).api);
    expect(await stateText()).toBe("locked passphrase new_device");
    expect(seen.calls).not.toContain("POST /auth/logout");
  });

  it("locks a provider session of a password account with its password", async () => {
    const account = await makeAccount();
    const { route } = fakeServer(account, { provider: true, secret: "password" });
    renderWithProviders(<State />, fakeApi(route).api);
    expect(await stateText()).toBe("locked password new_device");
  });

  it("still signs a password session out, as before providers", async () => {
    const account = await makeAccount();
    const { route, seen } = fakeServer(account, { provider: false, secret: "password" });
    renderWithProviders(<State />, fakeApi(route).api);
    expect(await stateText()).toBe("anonymous");
    expect(seen.calls).toContain("POST /auth/logout");
    expect(seen.calls).not.toContain("GET /keys/vault/kdf");
  });

  it("locks with the stale stored vault key after a re-key elsewhere", async () => {
    const account = await makeAccount();
    const { route, deviceId } = fakeServer(account, { provider: true });
    const device = await WebCryptoDeviceKey.generate();
    await browserUnlockedState.save({
      userId: account.userId,
      deviceId,
      deviceKeyPair: device.keyPair,
      vaultKey: new Uint8Array(32),
    });
    renderWithProviders(<State />, fakeApi(route).api);
    expect(await stateText()).toBe("locked passphrase keys_changed");
  });
});
