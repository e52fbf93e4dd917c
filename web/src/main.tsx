// First: the Trusted Types policy must exist before anything reaches a script-URL sink.
import "@/lib/trusted-types";
import "@/app/styles.css";

import { StrictMode } from "react";
import { createRoot } from "react-dom/client";

import { App } from "@/app/app";

const container = document.getElementById("root");
if (container === null) {
  throw new Error("missing #root element");
}
createRoot(container).render(
  <StrictMode>
    <App />
  </StrictMode>,
);
