/** The live password (or chat passphrase) strength line under a new-password field. */
import type { Strength } from "@/lib/password-strength";

export function StrengthMeter({
  id,
  password,
  strength,
  label = "Password strength",
}: {
  id: string;
  password: string;
  strength: Strength;
  label?: string;
}) {
  return (
    <div className="strength" id={id} aria-live="polite">
      <meter min={0} max={4} low={2} high={3} optimum={4} value={password ? strength.score : 0} aria-label={label} />
      <span>
        {password === "" ? "Use a few words only you would pick." : strength.label}
        {password !== "" && strength.reason !== "" ? ` — ${strength.reason}` : ""}
      </span>
    </div>
  );
}
