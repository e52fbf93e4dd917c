/**
 * The lifecycle every modal `<dialog>` of the app shares: opened with `showModal()` while `open`
 * (so the browser traps focus and makes the page behind it inert), `onOpened` to move focus or
 * animate, closed and focus given back to what had it when `open` turns false. Escape (the
 * dialog's `cancel`, see `cancelWith`) calls the parent's `onClose`, so the parent's state and
 * the dialog never disagree.
 */
import { useEffect, useRef, type RefObject, type SyntheticEvent } from "react";

export function useModalDialog(
  dialog: RefObject<HTMLDialogElement | null>,
  open: boolean,
  onOpened: (element: HTMLDialogElement) => void,
): void {
  const opened = useRef(onOpened);
  useEffect(() => {
    opened.current = onOpened;
  });

  useEffect(() => {
    const element = dialog.current;
    if (!open || element === null) return;
    const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!element.open) element.showModal();
    opened.current(element);
    return () => {
      if (element.open) element.close();
      previous?.focus();
    };
  }, [dialog, open]);
}

/** The dialog's `onCancel` (Escape): the parent's state closes it. */
export function cancelWith(onClose: () => void) {
  return (event: SyntheticEvent<HTMLDialogElement>) => {
    event.preventDefault();
    onClose();
  };
}
