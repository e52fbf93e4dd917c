/**
 * The recovery code, shown once: grouped for reading aloud, copy / download / print, and one
 * randomly chosen group typed back before the person may continue (proof they wrote it down,
 * not just scrolled past it).
 */
import { useId, useState, type SyntheticEvent } from "react";

const GROUPS = 7;

/** Reading slips people make: lower case, O for 0, I or L for 1, spaces. */
function normalized(text: string): string {
  return text
    .toUpperCase()
    .replaceAll(/[\s-]/g, "")
    .replaceAll("O", "0")
    .replaceAll(/[IL]/g, "1");
}

function pickGroup(): number {
  return (crypto.getRandomValues(new Uint32Array(1))[0] ?? 0) % GROUPS;
}

function download(code: string, secret: string): void {
  const text = [
    "Hushroom recovery code",
    "",
    code,
    "",
    `With your email and this code you can set a new ${secret} and keep your private history.`,
    `Without your ${secret} and this code, your private history is gone for good.`,
    "Keep it somewhere safe and offline. Anyone with it and your email can take over your keys.",
    "",
  ].join("\n");
  const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = "hushroom-recovery-code.txt";
  document.body.append(link);
  link.click();
  link.remove();
  window.setTimeout(() => {
    URL.revokeObjectURL(url);
  }, 1000);
}

export function RecoveryCodeStep({
  code,
  title,
  intro,
  continueLabel = "Continue",
  busy = false,
  secret = "password",
  onConfirmed,
}: {
  code: string;
  title: string;
  intro?: string;
  continueLabel?: string;
  busy?: boolean;
  /** What the code stands in for: the password, or a provider account's "chat passphrase". */
  secret?: string;
  onConfirmed: () => void;
}) {
  const groups = code.split("-");
  const [group] = useState(pickGroup);
  const [typed, setTyped] = useState("");
  const [copied, setCopied] = useState(false);
  const [tried, setTried] = useState(false);
  const inputId = useId();
  const expected = groups[group] ?? "";
  const matches = normalized(typed) === expected;

  const submit = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    setTried(true);
    if (matches && !busy) onConfirmed();
  };

  return (
    <section className="recovery-step" aria-labelledby={`${inputId}-title`}>
      <h2 id={`${inputId}-title`}>{title}</h2>
      {intro !== undefined && <p>{intro}</p>}
      <div className="recovery-sheet">
        <p className="recovery-code" data-testid="recovery-code" aria-label="Recovery code">
          {groups.map((g, i) => (
            <span key={i} className="recovery-group">
              {g}
            </span>
          ))}
        </p>
        <p className="hint">
          Write this down or save it somewhere safe and offline. If you forget your {secret}, this
          code and your email let you set a new one.{" "}
          <strong>Without your {secret} and this code, your private history is gone for good</strong>{" "}
          — nobody can bring it back, not even the people who run this server. We show it only this
          once.
        </p>
      </div>
      <div className="recovery-actions">
        <button
          type="button"
          onClick={() => {
            void navigator.clipboard
              .writeText(code)
              .then(() => {
                setCopied(true);
              })
              .catch(() => undefined);
          }}
        >
          {copied ? "Copied" : "Copy"}
        </button>
        <button
          type="button"
          onClick={() => {
            download(code, secret);
          }}
        >
          Download as .txt
        </button>
        <button
          type="button"
          onClick={() => {
            window.print();
          }}
        >
          Print
        </button>
      </div>
      <form onSubmit={submit} aria-busy={busy}>
        <label htmlFor={inputId}>
          To continue, type group {group + 1} of {GROUPS}
        </label>
        <input
          id={inputId}
          data-group={group + 1}
          autoComplete="off"
          spellCheck={false}
          autoCapitalize="characters"
          maxLength={12}
          value={typed}
          aria-invalid={tried && !matches}
          onChange={(e) => {
            setTyped(e.target.value);
          }}
          disabled={busy}
        />
        {tried && !matches && (
          <p className="field-error">That isn't group {group + 1}. Check your copy.</p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {continueLabel}
        </button>
      </form>
    </section>
  );
}
