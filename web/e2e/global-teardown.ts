import { e2ePort, readState, stopServer } from "./server";

export default async function globalTeardown(): Promise<void> {
  try {
    await stopServer(readState(e2ePort()).pid);
  } catch {
    // never started
  }
}
