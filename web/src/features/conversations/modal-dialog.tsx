/**
 * A modal native `<dialog>` for the conversation forms (new message, new group): opened with
 * `showModal()` so the browser traps focus and makes the page behind it inert; Escape and the
 * close button call `onClose`, and focus goes back to what had it. Like `Popup`, the parent's
 * state decides whether it is open.
 */
import { useEffect, useId, useRef, type ReactNode, type SyntheticEvent } from "react";

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
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();

  useEffect(() => {
    const element = dialog.current;
    if (!open || element === null) return;
    const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!element.open) element.showModal();
    dialogIn(element);
    const first = element.querySelector<HTMLElement>("[autofocus], input, button:not(.dialog-close)");
    first?.focus();
    return () => {
      if (element.open) element.close();
      previous?.focus();
    };
  }, [open]);

  const onCancel = (event: SyntheticEvent<HTMLDialogElement>) => {
    event.preventDefault();
    onClose();
  };

  return (
    <dialog
      ref={dialog}
      className={`sheet ${className ?? ""}`}
      aria-modal="true"
      aria-labelledby={titleId}
      onCancel={onCancel}
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
