/**
 * The "⋯" menu of a private conversation: hide it from the list, leave a DM, block or unblock
 * a DM's other user. Blocking is silent for them (docs/decisions/0006), so the menu says so.
 */
import { useEffect, useId, useRef, useState } from "react";

import { describeError } from "@/api/errors";
import type { ConsentActions } from "@/features/requests/use-consent";

interface MenuProps {
  readonly kind: "dm" | "group";
  readonly partnerId?: string | undefined;
  /** Whether the signed-in user blocks the DM's partner (undefined while that loads). */
  readonly blocked: boolean | undefined;
  readonly actions: ConsentActions;
  /** After the conversation went away for the user (hidden, left or blocked). */
  readonly onGone: () => void;
}

export function ConversationMenu({ kind, partnerId, blocked, actions, onGone }: MenuProps) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const menuId = useId();
  const root = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const close = (event: MouseEvent | KeyboardEvent) => {
      if (event instanceof KeyboardEvent ? event.key === "Escape" : !root.current?.contains(event.target as Node)) {
        setOpen(false);
      }
    };
    document.addEventListener("mousedown", close);
    document.addEventListener("keydown", close);
    return () => {
      document.removeEventListener("mousedown", close);
      document.removeEventListener("keydown", close);
    };
  }, [open]);

  const run = async (action: () => Promise<void>, gone: boolean) => {
    setOpen(false);
    setError(null);
    try {
      await action();
      if (gone) onGone();
    } catch (caught) {
      const { title, detail } = describeError(caught);
      setError(`${title}. ${detail}`);
    }
  };

  return (
    <div className="conversation-menu" ref={root}>
      <button
        type="button"
        className="ghost"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={menuId}
        aria-label="Conversation actions"
        onClick={() => {
          setOpen((v) => !v);
        }}
      >
        ⋯
      </button>
      {open && (
        <ul id={menuId} role="menu" className="menu-list">
          <li role="none">
            <button type="button" role="menuitem" onClick={() => void run(actions.hide, true)}>
              Hide conversation
            </button>
          </li>
          {kind === "dm" && (
            <li role="none">
              <button type="button" role="menuitem" onClick={() => void run(actions.leave, true)}>
                Leave conversation
              </button>
            </li>
          )}
          {kind === "dm" && partnerId !== undefined && blocked !== undefined && (
            <li role="none">
              <button
                type="button"
                role="menuitem"
                className={blocked ? undefined : "danger"}
                title={blocked ? undefined : "They won't be told. Their messages, invitations and presence stop reaching you."}
                onClick={() => void run(() => actions.setBlocked(partnerId, !blocked), !blocked)}
              >
                {blocked ? "Unblock" : "Block"}
              </button>
            </li>
          )}
        </ul>
      )}
      {error !== null && (
        <p className="error small" role="alert">
          {error}
        </p>
      )}
    </div>
  );
}
