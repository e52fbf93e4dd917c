import { fileURLToPath } from "node:url";

import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// `npm run dev`: Vite on :5173 proxies the API and the WebSocket to a server on :8000
// (`make run`, or `uv run hushroom serve`). Start that server with
// HUSHROOM_ALLOWED_ORIGINS='["http://localhost:5173","http://127.0.0.1:5173"]' so the
// WebSocket handshake's Origin check accepts the dev page.
const backend = process.env.HUSHROOM_DEV_BACKEND ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  resolve: {
    alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) },
  },
  worker: { format: "es" },
  build: {
    target: "es2022",
    // No source maps in production builds (they publish the source; docs/security.md).
    sourcemap: false,
    // Every supported browser has <link rel="modulepreload">: no polyfill script in the entry.
    modulePreload: { polyfill: false },
    chunkSizeWarningLimit: 800,
  },
  server: {
    proxy: {
      "/api": { target: backend },
      "/ws": { target: backend.replace(/^http/, "ws"), ws: true },
    },
  },
});
