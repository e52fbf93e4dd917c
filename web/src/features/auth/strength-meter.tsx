/** The live password strength line under a new-password field. */
import type { Strength } from "@/lib/password-strength";

export function StrengthMeter({
  id,
  password,
  strength,
}: {
  id: string;
  password: string;
  strength: Strength;
}) {
  return (
    <div className="strength" id={id} aria-live="polite">
      <meter min={0} max={4} low={2} high={3} optimum={4} value={password ? strength.score : 0} aria-label="Password strength" />
      <span>
        {password === "" ? "Use a few words only you would pick." : strength.label}
        {password !== "" && strength.reason !== "" ? ` — ${strength.reason}` : ""}
      </span>
    </div>
  );
}
