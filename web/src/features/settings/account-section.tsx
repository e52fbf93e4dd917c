/** Who you are here, and the fingerprint of your identity key (proof the vault unlocked). */
import { useMemo } from "react";

import { useMe } from "@/api/queries";
import { keyFingerprintGroups } from "@/features/settings/key-fingerprint";
import type { UnlockedKeys } from "@/session/unlocked-keys";

export function AccountSection({ keys }: { keys: UnlockedKeys }) {
  const me = useMe();
  const groups = useMemo(() => keyFingerprintGroups(keys.identity), [keys.identity]);
  return (
    <section className="settings-section" aria-labelledby="settings-account">
      <h2 id="settings-account">Account</h2>
      <dl className="settings-facts">
        <dt>Display name</dt>
        <dd>{me.data?.display_name ?? "…"}</dd>
        <dt>Email</dt>
        <dd>{me.data?.email ?? "…"}</dd>
        <dt>Your key fingerprint</dt>
        <dd className="fingerprint" data-testid="identity-fingerprint">
          {groups.join(" ")}
        </dd>
        <dt>Key generations</dt>
        <dd data-testid="puk-generations">{keys.contents.pukSeeds.length}</dd>
      </dl>
      <p className="hint">
        Your private messages are encrypted with keys only your devices hold. The fingerprint is
        the same on every device you sign in on.
      </p>
    </section>
  );
}
