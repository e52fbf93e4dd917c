/** A modal popup for errors, in plain words. Focus moves to its button; Escape closes it. */
import { useEffect, useRef } from "react";

export interface PopupContent {
  readonly title: string;
  readonly detail: string;
}

export function Popup({ content, onClose }: { content: PopupContent | null; onClose: () => void }) {
  const button = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (content === null) return;
    const previous = document.activeElement as HTMLElement | null;
    button.current?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") onClose();
    };
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("keydown", onKey);
      previous?.focus();
    };
  }, [content, onClose]);
  if (content === null) return null;
  return (
    <div className="popup-backdrop">
      <div
        className="popup"
        role="alertdialog"
        aria-modal="true"
        aria-labelledby="popup-title"
        aria-describedby="popup-detail"
      >
        <h2 id="popup-title">{content.title}</h2>
        <p id="popup-detail">{content.detail}</p>
        <button ref={button} type="button" className="primary" onClick={onClose}>
          OK
        </button>
      </div>
    </div>
  );
}
