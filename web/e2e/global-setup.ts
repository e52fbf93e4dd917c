import { existsSync, rmSync } from "node:fs";
import { resolve } from "node:path";

import { startIdentityProviders } from "./oidc-provider";
import { e2ePort, startServer } from "./server";

/** Returns the teardown of the identity providers (Playwright runs it after globalTeardown). */
export default async function globalSetup(): Promise<() => Promise<void>> {
  if (!existsSync(resolve(import.meta.dirname, "..", "dist", "index.html"))) {
    throw new Error("web/dist is missing: run `npm run build` first (make e2e does)");
  }
  const port = e2ePort();
  rmSync(`/tmp/hushroom-e2e-${String(port)}`, { recursive: true, force: true });
  // The "Sign in with …" providers first: the server reads their config when it starts.
  const idps = await startIdentityProviders(port);
  process.env.HUSHROOM_SIGN_IN_PROVIDERS = idps.config;
  try {
    await startServer(port);
  } catch (error) {
    await idps.stop();
    throw error;
  }
  return idps.stop;
}
