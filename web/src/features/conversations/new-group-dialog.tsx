/**
 * "New group": a name and the people in it (picked by search, shown as removable chips). The
 * group is created with a signed `create` entry: you as its admin, everyone else a member.
 */
import { useMemo, useState, type SyntheticEvent } from "react";
import { useNavigate } from "react-router";

import type { PublicUser } from "@/api/types";
import { Popup, type PopupContent } from "@/components/popup";
import { LockIcon } from "@/components/privacy";
import { conversationErrorWords } from "@/features/conversations/error-words";
import { MemberPicker } from "@/features/conversations/member-picker";
import { ModalDialog } from "@/features/conversations/modal-dialog";
import { useGroupFlows } from "@/features/conversations/use-group-flows";
import { useEngine } from "@/store/react";

/** The most a group holds (docs/protocol.md); you are one of them. */
export const MAX_GROUP_MEMBERS = 256;

export function NewGroupDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const flows = useGroupFlows();
  const navigate = useNavigate();
  const [name, setName] = useState("");
  const [picked, setPicked] = useState<PublicUser[]>([]);
  const [busy, setBusy] = useState(false);
  const [popup, setPopup] = useState<PopupContent | null>(null);
  const me = useEngine().userId;
  const hidden = useMemo(() => new Set([me]), [me]);
  const chosen = useMemo(() => new Set(picked.map((u) => u.user_id)), [picked]);

  const close = () => {
    setName("");
    setPicked([]);
    onClose();
  };

  const add = (user: PublicUser) => {
    setPicked((list) => (list.some((u) => u.user_id === user.user_id) ? list : [...list, user]));
  };

  const submit = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const groupName = name.trim();
    if (groupName === "") {
      setPopup({ title: "Give the group a name", detail: "Everyone in it will see this name." });
      return;
    }
    if (picked.length === 0) {
      setPopup({ title: "Add someone to the group", detail: "Search for at least one person to invite." });
      return;
    }
    if (picked.length + 1 > MAX_GROUP_MEMBERS) {
      setPopup({ title: "Too many people", detail: `A group holds at most ${String(MAX_GROUP_MEMBERS)} people, you included.` });
      return;
    }
    setBusy(true);
    try {
      const id = await flows.createGroup(groupName, picked.map((u) => u.user_id));
      close();
      void navigate(`/c/${id}`);
    } catch (error) {
      setPopup(conversationErrorWords(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <ModalDialog open={open} title="New group" onClose={close}>
      <form onSubmit={(e) => void submit(e)} aria-busy={busy}>
        <label>
          Group name
          <input
            name="name"
            value={name}
            maxLength={80}
            required
            disabled={busy}
            autoComplete="off"
            onChange={(e) => {
              setName(e.target.value);
            }}
          />
        </label>
        <MemberPicker label="Add people" hidden={hidden} chosen={chosen} disabled={busy} onPick={add} />
        <div>
          <p className="small" id="group-chips-label">
            {picked.length === 0
              ? "Nobody added yet."
              : `${String(picked.length)} ${picked.length === 1 ? "person" : "people"} added, and you as admin:`}
          </p>
          <ul className="chips" aria-labelledby="group-chips-label">
            {picked.map((u) => (
              <li key={u.user_id} className="chip">
                {u.display_name}
                <button
                  type="button"
                  aria-label={`Remove ${u.display_name}`}
                  disabled={busy}
                  onClick={() => {
                    setPicked((list) => list.filter((x) => x.user_id !== u.user_id));
                  }}
                >
                  ✕
                </button>
              </li>
            ))}
          </ul>
        </div>
        <p className="muted small">
          <LockIcon />{" "}Groups are end-to-end encrypted. Their member list is signed, so the server can't
          add anyone secretly.
        </p>
        <div className="actions">
          <button type="button" className="ghost" onClick={close} disabled={busy}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={busy}>
            {busy ? "Creating…" : "Create group"}
          </button>
        </div>
      </form>
      <Popup
        content={popup}
        onClose={() => {
          setPopup(null);
        }}
      />
    </ModalDialog>
  );
}
