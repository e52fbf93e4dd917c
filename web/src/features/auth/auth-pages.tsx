/** Sign in and registration. Argon2id runs in a worker; the page shows progress, never freezes. */
import { useCallback, useId, useState, type SyntheticEvent } from "react";
import { Link, useNavigate } from "react-router";

import { describeError } from "@/api/errors";
import { Popup, type PopupContent } from "@/components/popup";
import { WeakParameters } from "@/crypto/errors";
import { passwordStrength } from "@/lib/password-strength";
import { field } from "@/components/form";
import { useSession, type Progress } from "@/session/session";

type Phase = "idle" | "queued" | "hashing" | "done" | "sending";

const PHASE_TEXT: Record<Phase, string> = {
  idle: "",
  queued: "Preparing…",
  hashing: "Securing your password on this device…",
  done: "Secured.",
  sending: "Contacting the server…",
};

function errorWords(error: unknown): PopupContent {
  if (error instanceof WeakParameters) {
    return {
      title: "This server asked for unsafe settings",
      detail: "We stopped to protect your password. Contact the server's operator.",
    };
  }
  return describeError(error);
}

function useBusy() {
  const [phase, setPhase] = useState<Phase>("idle");
  const onProgress: Progress = useCallback((p) => {
    setPhase(p);
  }, []);
  return { phase, setPhase, onProgress, busy: phase !== "idle" };
}

function ProgressLine({ phase }: { phase: Phase }) {
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

export function LoginPage() {
  const { login, state } = useSession();
  const navigate = useNavigate();
  const { phase, setPhase, onProgress, busy } = useBusy();
  const [popup, setPopup] = useState<PopupContent | null>(null);
  const closePopup = useCallback(() => {
    setPopup(null);
  }, []);

  const submit = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const email = field(form, "email").trim();
    const password = field(form, "password");
    setPhase("queued");
    try {
      await login(email, password, onProgress);
      void navigate("/", { replace: true });
    } catch (error) {
      setPopup(errorWords(error));
    } finally {
      setPhase("idle");
    }
  };

  return (
    <main className="auth">
      <div className="auth-card">
        <h1 className="brand">Hushroom</h1>
        <h2>Sign in</h2>
        {state.status === "anonymous" && state.expired && (
          <p className="notice" role="status">
            Your session ended. Sign in again — your drafts are kept.
          </p>
        )}
        <form onSubmit={(e) => void submit(e)} aria-busy={busy}>
          <label>
            Email
            <input name="email" type="email" autoComplete="username" required disabled={busy} />
          </label>
          <label>
            Password
            <input
              name="password"
              type="password"
              autoComplete="current-password"
              required
              disabled={busy}
            />
          </label>
          <button type="submit" className="primary" disabled={busy}>
            Sign in
          </button>
          <ProgressLine phase={phase} />
        </form>
        <p>
          New here? <Link to="/register">Create an account</Link>
        </p>
      </div>
      <Popup content={popup} onClose={closePopup} />
    </main>
  );
}

export function RegisterPage() {
  const { register } = useSession();
  const navigate = useNavigate();
  const { phase, setPhase, onProgress, busy } = useBusy();
  const [popup, setPopup] = useState<PopupContent | null>(null);
  const [displayName, setDisplayName] = useState("");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [tried, setTried] = useState(false);
  const [done, setDone] = useState(false);
  const strengthId = useId();
  const closePopup = useCallback(() => {
    setPopup(null);
  }, []);

  const strength = passwordStrength(password, [displayName, email]);
  const mismatch = confirm !== "" && confirm !== password;

  const submit = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    setTried(true);
    if (!strength.acceptable) {
      setPopup({ title: "Choose a stronger password", detail: strength.reason });
      return;
    }
    if (password !== confirm) {
      setPopup({ title: "The passwords don't match", detail: "Type the same password twice." });
      return;
    }
    setPhase("queued");
    try {
      const enter = await register(displayName.trim(), email.trim(), password, onProgress);
      setDone(true);
      window.setTimeout(() => {
        enter();
        void navigate("/", { replace: true });
      }, 900);
    } catch (error) {
      setPopup(errorWords(error));
    } finally {
      setPhase("idle");
    }
  };

  return (
    <main className="auth">
      <div className="auth-card">
        <h1 className="brand">Hushroom</h1>
        <h2>Create your account</h2>
        {done ? (
          <p className="success" role="status">
            Account created. Welcome!
          </p>
        ) : (
          <form onSubmit={(e) => void submit(e)} aria-busy={busy} noValidate={false}>
            <label>
              Display name
              <input
                name="display_name"
                autoComplete="nickname"
                required
                maxLength={256}
                value={displayName}
                onChange={(e) => {
                  setDisplayName(e.target.value);
                }}
                disabled={busy}
              />
            </label>
            <label>
              Email
              <input
                name="email"
                type="email"
                autoComplete="email"
                required
                value={email}
                onChange={(e) => {
                  setEmail(e.target.value);
                }}
                disabled={busy}
              />
            </label>
            <label>
              Password
              <input
                name="password"
                type="password"
                autoComplete="new-password"
                required
                aria-describedby={strengthId}
                aria-invalid={tried && !strength.acceptable}
                value={password}
                onChange={(e) => {
                  setPassword(e.target.value);
                }}
                disabled={busy}
              />
            </label>
            <div className="strength" id={strengthId} aria-live="polite">
              <meter min={0} max={4} low={2} high={3} optimum={4} value={password ? strength.score : 0} aria-label="Password strength" />
              <span>
                {password === "" ? "Use a few words only you would pick." : strength.label}
                {password !== "" && strength.reason !== "" ? ` — ${strength.reason}` : ""}
              </span>
            </div>
            <label>
              Confirm password
              <input
                name="confirm"
                type="password"
                autoComplete="new-password"
                required
                aria-invalid={mismatch}
                value={confirm}
                onChange={(e) => {
                  setConfirm(e.target.value);
                }}
                disabled={busy}
              />
            </label>
            {mismatch && <p className="field-error">The passwords don't match.</p>}
            <p className="hint">
              Your password unlocks your private messages. If you forget it (and lose your
              recovery code), private history can't be recovered — by design.
            </p>
            <button type="submit" className="primary" disabled={busy}>
              Create account
            </button>
            <ProgressLine phase={phase} />
          </form>
        )}
        <p>
          Already have an account? <Link to="/login">Sign in</Link>
        </p>
      </div>
      <Popup content={popup} onClose={closePopup} />
    </main>
  );
}
