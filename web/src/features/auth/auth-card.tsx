/** The frame of the signed-out pages: the brand over one card, and the page's popup. */
import type { ReactNode } from "react";

import { Popup, type PopupState } from "@/components/popup";

export function AuthCard({ popup, children }: { popup?: PopupState; children: ReactNode }) {
  return (
    <main className="auth">
      <div className="auth-card">
        <h1 className="brand">Hushroom</h1>
        {children}
      </div>
      {popup !== undefined && <Popup content={popup.content} onClose={popup.close} />}
    </main>
  );
}
