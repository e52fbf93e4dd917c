/**
 * The account's devices: rename, and revoke (password or chat passphrase re-entered; the vault
 * is re-keyed with a new PUK generation and a new recovery code, which is shown once).
 */
import { useQueryClient } from "@tanstack/react-query";
import { useState, type SyntheticEvent } from "react";

import { useDevices } from "@/api/queries";
import type { DeviceOut, SecretKind } from "@/api/types";
import { Popup, usePopup, type PopupContent } from "@/components/popup";
import { field } from "@/components/form";
import { errorWords, secretErrorWords, secretName } from "@/features/auth/error-words";
import { CurrentPasswordField } from "@/features/auth/account-fields";
import { ProgressLine, useBusy } from "@/features/auth/progress-line";
import { RecoveryCodeStep } from "@/features/auth/recovery-code-step";
import { useSession } from "@/session/session";
import type { UnlockedKeys } from "@/session/unlocked-keys";

function when(ms: number | null): string {
  return ms === null ? "never" : new Date(ms).toLocaleString();
}

export function DevicesSection({ keys, secret }: { keys: UnlockedKeys; secret: SecretKind }) {
  const devices = useDevices();
  const popup = usePopup();
  const [newCode, setNewCode] = useState<string | null>(null);
  const live = (devices.data ?? []).filter((d) => d.revoked_at === null);

  return (
    <section className="settings-section" aria-labelledby="settings-devices">
      <h2 id="settings-devices">Devices</h2>
      {newCode !== null ? (
        <RecoveryCodeStep
          code={newCode}
          title="Device revoked: here is your new recovery code"
          intro="Your keys were renewed so the revoked device can't read new private messages. Your old recovery code no longer works."
          continueLabel="Done"
          secret={secretName(secret)}
          onConfirmed={() => {
            setNewCode(null);
          }}
        />
      ) : devices.isPending ? (
        <p className="muted">Loading…</p>
      ) : devices.isError ? (
        <p className="field-error">{errorWords(devices.error).title}</p>
      ) : (
        <ul className="device-list" aria-label="Your devices">
          {live.map((device) => (
            <DeviceRow
              key={device.device_id}
              device={device}
              keys={keys}
              secret={secret}
              onError={popup.show}
              onRevoked={setNewCode}
            />
          ))}
        </ul>
      )}
      <Popup content={popup.content} onClose={popup.close} />
    </section>
  );
}

function DeviceRow({
  device,
  keys,
  secret,
  onError,
  onRevoked,
}: {
  device: DeviceOut;
  keys: UnlockedKeys;
  secret: SecretKind;
  onError: (content: PopupContent) => void;
  onRevoked: (code: string) => void;
}) {
  const { api, updateKeys } = useSession();
  const queryClient = useQueryClient();
  const { phase, run, onProgress, busy } = useBusy();
  const [mode, setMode] = useState<"view" | "rename" | "revoke">("view");
  const name = device.name ?? "Unnamed device";
  const failed = (error: unknown) => {
    onError(errorWords(error));
  };
  const cancel = () => {
    setMode("view");
  };

  const rename = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const value = field(new FormData(event.currentTarget), "name").trim();
    if (value === "") return;
    await run(
      "sending",
      async () => {
        await api.renameDevice(device.device_id, value);
        await queryClient.invalidateQueries({ queryKey: ["devices"] });
        setMode("view");
      },
      failed,
    );
  };

  const revoke = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const password = field(new FormData(event.currentTarget), "password");
    await run(
      "queued",
      async () => {
        const { revokeDevice } = await import("@/session/rekey");
        const out = await revokeDevice(api, keys, password, device.device_id, onProgress);
        updateKeys(out.keys);
        await queryClient.invalidateQueries({ queryKey: ["devices"] });
        onRevoked(out.recoveryCode.formatted());
      },
      (error) => {
        onError(secretErrorWords(error, secret));
      },
    );
  };

  return (
    <li className="device" data-testid="device" data-current={device.current}>
      <div className="device-head">
        <strong className="device-name">{name}</strong>
        {device.current && <span className="badge-soft">This device</span>}
        {!device.certified && <span className="badge-warn">Not verified yet</span>}
      </div>
      <p className="muted device-times">
        Added {when(device.created_at)} · Last active {when(device.last_active_at)}
      </p>
      {mode === "view" && (
        <div className="device-actions">
          <button
            type="button"
            onClick={() => {
              setMode("rename");
            }}
            aria-label={`Rename ${name}`}
          >
            Rename
          </button>
          {!device.current && (
            <button
              type="button"
              className="danger"
              onClick={() => {
                setMode("revoke");
              }}
              aria-label={`Revoke ${name}`}
            >
              Revoke
            </button>
          )}
        </div>
      )}
      {mode === "rename" && (
        <form className="inline-form" onSubmit={(e) => void rename(e)} aria-busy={busy}>
          <label>
            Device name
            <input name="name" defaultValue={device.name ?? ""} maxLength={100} required autoFocus disabled={busy} />
          </label>
          <FormActions submit="Save" className="primary" busy={busy} onCancel={cancel} />
        </form>
      )}
      {mode === "revoke" && (
        <form className="inline-form" onSubmit={(e) => void revoke(e)} aria-busy={busy}>
          <p>
            {name} will be signed out at once and can't read new private messages. Enter your{" "}
            {secretName(secret)} to confirm.
          </p>
          <CurrentPasswordField
            label={`Your ${secretName(secret)}`}
            name="password"
            autoFocus
            disabled={busy}
          />
          <FormActions submit="Revoke device" className="danger" busy={busy} onCancel={cancel} />
          <ProgressLine phase={phase} />
        </form>
      )}
    </li>
  );
}

/** An inline form's submit button and its Cancel (back to the row's view). */
function FormActions({
  submit,
  className,
  busy,
  onCancel,
}: {
  submit: string;
  className: "primary" | "danger";
  busy: boolean;
  onCancel: () => void;
}) {
  return (
    <div className="device-actions">
      <button type="submit" className={className} disabled={busy}>
        {submit}
      </button>
      <button type="button" onClick={onCancel} disabled={busy}>
        Cancel
      </button>
    </div>
  );
}
