/** Settings (route /settings): account, password, devices; moderation for server admins. */
import { Link } from "react-router";

import { useMe } from "@/api/queries";
import { AccountSection } from "@/features/settings/account-section";
import { ChangePasswordSection } from "@/features/settings/change-password-section";
import { DevicesSection } from "@/features/settings/devices-section";
import { ModerationSection } from "@/features/settings/moderation-section";
import { useUnlockedKeys } from "@/session/unlocked-keys";

export default function SettingsPage() {
  const keys = useUnlockedKeys();
  const me = useMe();
  if (keys === null) return null;
  const email = me.data?.email;
  return (
    <div className="settings">
      <header className="conversation-header settings-header">
        <Link to="/" className="back" aria-label="Back to conversations">
          ←
        </Link>
        <h2>Settings</h2>
      </header>
      <div className="settings-body">
        <AccountSection keys={keys} />
        {email === undefined ? (
          <p className="muted">Loading…</p>
        ) : (
          <>
            <ChangePasswordSection keys={keys} email={email} />
            <DevicesSection keys={keys} email={email} />
          </>
        )}
        {me.data?.is_admin === true && <ModerationSection />}
      </div>
    </div>
  );
}
