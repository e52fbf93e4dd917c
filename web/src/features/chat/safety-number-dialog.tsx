/**
 * The safety number with one contact (docs/crypto.md §9): 60 digits in 12 groups of 5 and a QR
 * code of the QR payload, both computed from the two identity keys. Comparing them (in person,
 * on a call) proves no one sits between the two; "Mark as verified" remembers it for this key.
 */
import { useEffect, useId, useMemo, useRef } from "react";

import { IdentityPublicKey } from "@/crypto/identity";
import { safetyNumber } from "@/crypto/safety-number";
import { QrCode } from "@/features/chat/qr-code";
import { keyring } from "@/session/unlocked-keys";

interface Props {
  readonly contactName: string;
  /** The contact's identity key this number is for (the pinned one, or a new one to accept). */
  readonly contactKey: Uint8Array;
  readonly verified: boolean;
  /** A changed key waiting to be accepted: the dialog offers "Accept new key" instead. */
  readonly changed: boolean;
  readonly onVerify: () => void;
  readonly onUnverify: () => void;
  readonly onAccept: () => void;
  readonly onClose: () => void;
}

export function SafetyNumberDialog(props: Props) {
  const { contactName, contactKey, verified, changed, onVerify, onUnverify, onAccept, onClose } = props;
  const dialog = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const number = useMemo(() => {
    const mine = keyring.current()?.identity.public();
    if (mine === undefined) return null;
    try {
      return safetyNumber(mine, new IdentityPublicKey(contactKey));
    } catch {
      return null;
    }
  }, [contactKey]);

  useEffect(() => {
    const element = dialog.current;
    if (element === null) return;
    const previous = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    if (!element.open) element.showModal();
    return () => {
      if (element.open) element.close();
      previous?.focus();
    };
  }, []);

  return (
    <dialog
      ref={dialog}
      className="popup safety-dialog"
      aria-modal="true"
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <h2 id={titleId}>Safety number with {contactName}</h2>
      {number === null ? (
        <p>The safety number can't be shown while your keys are locked.</p>
      ) : (
        <>
          <p className="small muted">
            Compare these numbers with {contactName}'s screen, or scan the code. If they match, nobody can read
            or change your private messages in between.
          </p>
          <p className="safety-digits" data-testid="safety-number">
            {number.groups().map((g, i) => (
              <span key={String(i)}>{g}</span>
            ))}
          </p>
          <QrCode data={number.qrPayload} label={`Safety number QR code with ${contactName}`} />
        </>
      )}
      <div className="safety-actions">
        {changed ? (
          <button type="button" className="primary" onClick={onAccept}>
            Accept new key
          </button>
        ) : verified ? (
          <button type="button" className="ghost" onClick={onUnverify}>
            Remove verification
          </button>
        ) : (
          <button type="button" className="primary" onClick={onVerify} disabled={number === null}>
            Mark as verified
          </button>
        )}
        <button type="button" className="ghost" onClick={onClose}>
          Close
        </button>
      </div>
    </dialog>
  );
}
