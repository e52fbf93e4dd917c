/**
 * Settings (route /settings): account, sign-in methods, password (or a provider account's chat
 * passphrase), devices; moderation for server admins.
 */
import { Link } from "react-router";

import { useMe, useSecretKind } from "@/api/queries";
import { AccountSection } from "@/features/settings/account-section";
import { ChangePasswordSection } from "@/features/settings/change-password-section";
import { DevicesSection } from "@/features/settings/devices-section";
import { ModerationSection } from "@/features/settings/moderation-section";
import { SignInMethodsSection } from "@/features/settings/sign-in-methods-section";
import { useUnlockedKeys } from "@/session/unlocked-keys";

export default function SettingsPage() {
  const keys = useUnlockedKeys();
  const me = useMe();
  const secretKind = useSecretKind();
  if (keys === null) return null;
  const email = me.data?.email;
  // Which secret the forms ask for; a password when the server can't say (as before providers).
  const secret = secretKind.isError ? "password" : secretKind.data;
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
        {email === undefined || secret === undefined ? (
          <p className="muted">Loading…</p>
        ) : (
          <>
            <SignInMethodsSection secret={secret} />
            <ChangePasswordSection keys={keys} email={email} secret={secret} />
            <DevicesSection keys={keys} secret={secret} />
          </>
        )}
        {me.data?.is_admin === true && <ModerationSection />}
      </div>
    </div>
  );
}
