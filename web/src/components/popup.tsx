/**
 * A modal popup for errors, in plain words: a native `<dialog>` opened with `showModal()`, so the
 * browser traps focus inside it and makes the page behind it inert. Focus moves to its button;
 * Escape (the dialog's `cancel`) and the button both call `onClose`, and focus goes back to where
 * it was.
 */
import { useCallback, useId, useRef, useState } from "react";

import { cancelWith, useModalDialog } from "@/components/use-modal-dialog";

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
  const button = useRef<HTMLButtonElement>(null);
  const titleId = useId();
  const detailId = useId();
  const dialog = useRef<HTMLDialogElement>(null);
  useModalDialog(dialog, content !== null, () => {
    button.current?.focus();
  });

  return (
    <dialog
      ref={dialog}
      className="popup"
      role="alertdialog"
      aria-modal="true"
      aria-labelledby={titleId}
      aria-describedby={detailId}
      onCancel={cancelWith(onClose)}
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
