/**
 * A modal popup for errors, in plain words: a native `<dialog>` opened with `showModal()`, so the
 * browser traps focus inside it and makes the page behind it inert. Focus moves to its button;
 * Escape (the dialog's `cancel`) and the button both call `onClose`, and focus goes back to where
 * it was.
 */
import { useCallback, useEffect, useId, useRef, useState, type SyntheticEvent } from "react";

export interface PopupContent {
  readonly title: string;
  readonly detail: string;
}

/** A page's popup: what it shows (`null`: closed), `show` to open it, `close` for its button. */
export interface PopupState {
  readonly content: PopupContent | null;
  readonly show: (content: PopupContent | null) => void;
  readonly close: () => void;
}

export function usePopup(): PopupState {
  const [content, show] = useState<PopupContent | null>(null);
  const close = useCallback(() => {
    show(null);
  }, []);
  return { content, show, close };
}

export function Popup({ content, onClose }: { content: PopupContent | null; onClose: () => void }) {
  const dialog = useRef<HTMLDialogElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  const detailId = useId();
  const open = content !== null;

  useEffect(() => {
    const element = dialog.current;
    if (!open || element === null) return;
    const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!element.open) element.showModal();
    button.current?.focus();
    return () => {
      if (element.open) element.close();
      previous?.focus();
    };
  }, [open]);

  const onCancel = (event: SyntheticEvent<HTMLDialogElement>) => {
    // Escape: let the parent's state close it, so the dialog and `content` never disagree.
    event.preventDefault();
    onClose();
  };

  return (
    <dialog
      ref={dialog}
      className="popup"
      role="alertdialog"
      aria-modal="true"
      aria-labelledby={titleId}
      aria-describedby={detailId}
      onCancel={onCancel}
    >
      {content !== null && (
        <>
          <h2 id={titleId}>{content.title}</h2>
          <p id={detailId}>{content.detail}</p>
          <button ref={button} type="button" className="primary" onClick={onClose}>
            OK
          </button>
        </>
      )}
    </dialog>
  );
}
