/** The signed-in shell: conversation list and the open pane side by side (one at a time on phones). */
import { useState } from "react";
import { Link, Navigate, Outlet, useMatch } from "react-router";

import { useMe } from "@/api/queries";
import { ConnectionBanner } from "@/features/chat/connection-banner";
import { UnlockPage } from "@/features/auth/unlock-page";
import { ConversationList } from "@/features/chat/conversation-list";
import { NewConversationButtons } from "@/features/conversations/new-conversation";
import { useSession } from "@/session/session";
import { EngineProvider } from "@/store/react";

export function AuthedLayout() {
  const { state } = useSession();
  if (state.status === "loading") {
    return (
      <p className="muted center pad" role="status">
        Loading…
      </p>
    );
  }
  if (state.status === "anonymous") return <Navigate to="/login" replace />;
  if (state.status === "locked") return <UnlockPage secret={state.secret} reason={state.reason} />;
  return (
    <EngineProvider userId={state.userId}>
      <Shell />
    </EngineProvider>
  );
}

function Shell() {
  const { logout } = useSession();
  const me = useMe();
  const atHome = useMatch("/") !== null;
  const [menu, setMenu] = useState(false);
  return (
    <div className={`shell ${atHome ? "at-home" : "in-pane"}`}>
      <ConnectionBanner />
      <nav className="sidebar" aria-label="Conversations">
        <header className="sidebar-header">
          <h1 className="brand">Hushroom</h1>
          <div className="account">
            <button
              type="button"
              className="ghost"
              aria-expanded={menu}
              aria-haspopup="menu"
              onClick={() => {
                setMenu((v) => !v);
              }}
            >
              {me.data?.display_name ?? "Account"}
            </button>
            {menu && (
              <div
                className="menu"
                role="menu"
                onKeyDown={(e) => {
                  if (e.key === "Escape") setMenu(false);
                }}
              >
                <Link
                  to="/settings"
                  role="menuitem"
                  onClick={() => {
                    setMenu(false);
                  }}
                >
                  Settings
                </Link>
                <button type="button" role="menuitem" onClick={() => void logout(false)}>
                  Log out
                </button>
                <button type="button" role="menuitem" onClick={() => void logout(true)}>
                  Log out everywhere
                </button>
              </div>
            )}
          </div>
        </header>
        <div className="sidebar-links">
          <Link to="/rooms" className="button primary browse-link">
            Browse rooms
          </Link>
          <Link to="/settings" className="button settings-link">
            Settings
          </Link>
        </div>
        <NewConversationButtons />
        <ConversationList />
      </nav>
      <main className="pane">
        <Outlet />
      </main>
    </div>
  );
}

export function EmptyPane() {
  return (
    <div className="empty-pane">
      <p className="muted">Pick a conversation, or browse public rooms.</p>
    </div>
  );
}
