import { existsSync, rmSync } from "node:fs";
import { resolve } from "node:path";

import { e2ePort, startServer } from "./server";

export default async function globalSetup(): Promise<void> {
  if (!existsSync(resolve(import.meta.dirname, "..", "dist", "index.html"))) {
    throw new Error("web/dist is missing: run `npm run build` first (make e2e does)");
  }
  const port = e2ePort();
  rmSync(`/tmp/hushroom-e2e-${String(port)}`, { recursive: true, force: true });
  await startServer(port);
}
