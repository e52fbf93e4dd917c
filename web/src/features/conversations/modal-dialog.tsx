/**
 * A modal native `<dialog>` for the conversation forms (new message, new group): opened with
 * `showModal()` so the browser traps focus and makes the page behind it inert; Escape and the
 * close button call `onClose`, and focus goes back to what had it. Like `Popup`, the parent's
 * state decides whether it is open.
 */
import { useId, useRef, type ReactNode } from "react";

import { cancelWith, useModalDialog } from "@/components/use-modal-dialog";
import { dialogIn } from "@/features/conversations/motion";

import "./conversations.css";

interface ModalDialogProps {
  readonly open: boolean;
  readonly title: string;
  readonly onClose: () => void;
  readonly children: ReactNode;
  readonly className?: string;
}

export function ModalDialog({ open, title, onClose, children, className }: ModalDialogProps) {
  const titleId = useId();
  const dialog = useRef<HTMLDialogElement>(null);
  useModalDialog(dialog, open, (element) => {
    dialogIn(element);
    element.querySelector<HTMLElement>("[autofocus], input, button:not(.dialog-close)")?.focus();
  });

  return (
    <dialog
      ref={dialog}
      className={`sheet ${className ?? ""}`}
      aria-modal="true"
      aria-labelledby={titleId}
      onCancel={cancelWith(onClose)}
    >
      {open && (
        <>
          <header className="sheet-header">
            <h2 id={titleId}>{title}</h2>
            <button type="button" className="ghost dialog-close" aria-label="Close" onClick={onClose}>
              ✕
            </button>
          </header>
          {children}
        </>
      )}
    </dialog>
  );
}
