/** "New message": find a person, open (or start) the direct conversation with them. */
import { useQueryClient } from "@tanstack/react-query";
import { useMemo, useState } from "react";
import { useNavigate } from "react-router";

import type { PublicUser } from "@/api/types";
import { Popup, type PopupContent } from "@/components/popup";
import { LockIcon } from "@/components/privacy";
import { conversationErrorWords } from "@/features/conversations/error-words";
import { MemberPicker } from "@/features/conversations/member-picker";
import { ModalDialog } from "@/features/conversations/modal-dialog";
import { useSession } from "@/session/session";
import { useEngine } from "@/store/react";

export function NewMessageDialog({ open, onClose }: { open: boolean; onClose: () => void }) {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const [popup, setPopup] = useState<PopupContent | null>(null);
  const me = useEngine().userId;
  const hidden = useMemo(() => new Set([me]), [me]);

  const pick = async (user: PublicUser) => {
    setBusy(true);
    try {
      const dm = await api.openDm(user.user_id);
      queryClient.setQueryData(["user", user.user_id], user);
      await queryClient.invalidateQueries({ queryKey: ["conversations"] });
      onClose();
      void navigate(`/c/${dm.id}`);
    } catch (error) {
      setPopup(conversationErrorWords(error));
    } finally {
      setBusy(false);
    }
  };

  return (
    <ModalDialog open={open} title="New message" onClose={onClose}>
      <p className="muted small">
        <LockIcon />{" "}Direct messages are end-to-end encrypted: only the two of you can read them.
      </p>
      <MemberPicker label="Who do you want to write to?" hidden={hidden} disabled={busy} onPick={(u) => void pick(u)} />
      <Popup
        content={popup}
        onClose={() => {
          setPopup(null);
        }}
      />
    </ModalDialog>
  );
}
