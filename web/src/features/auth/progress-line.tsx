/** Progress of a long account operation (Argon2id in the worker, then the server). */
import { useCallback, useState } from "react";

import type { Progress } from "@/session/progress";

export type Phase = "idle" | "queued" | "hashing" | "done" | "sending";

const PHASE_TEXT: Record<Phase, string> = {
  idle: "",
  queued: "Preparing…",
  hashing: "Securing your password on this device…",
  done: "Secured.",
  sending: "Contacting the server…",
};

export function useBusy() {
  const [phase, setPhase] = useState<Phase>("idle");
  const onProgress: Progress = useCallback((p) => {
    setPhase(p);
  }, []);
  /** Runs `work` from the `start` phase back to idle; what it throws goes to `onError`. */
  const run = useCallback(
    async (start: Phase, work: () => Promise<void>, onError: (error: unknown) => void) => {
      setPhase(start);
      try {
        await work();
      } catch (error) {
        onError(error);
      } finally {
        setPhase("idle");
      }
    },
    [],
  );
  return { phase, setPhase, onProgress, busy: phase !== "idle", run };
}

export function ProgressLine({ phase }: { phase: Phase }) {
  return (
    <p className="progress" role="status" aria-live="polite">
      {phase === "idle" ? "" : (
        <>
          <span className="spinner" aria-hidden="true" /> {PHASE_TEXT[phase]}
        </>
      )}
    </p>
  );
}


/** A form's primary submit button with the progress line under it. */
export function SubmitWithProgress({ label, busy, phase }: { label: string; busy: boolean; phase: Phase }) {
  return (
    <>
      <button type="submit" className="primary" disabled={busy}>
        {label}
      </button>
      <ProgressLine phase={phase} />
    </>
  );
}
