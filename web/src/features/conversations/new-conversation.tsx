/** The conversation list's "New message" and "New group" buttons and their dialogs. */
import { useState } from "react";

import { NewGroupDialog } from "@/features/conversations/new-group-dialog";
import { NewMessageDialog } from "@/features/conversations/new-message-dialog";

import "./conversations.css";

export function NewConversationButtons() {
  const [open, setOpen] = useState<"message" | "group" | null>(null);
  const close = () => {
    setOpen(null);
  };
  return (
    <div className="new-conversation">
      <button
        type="button"
        aria-haspopup="dialog"
        onClick={() => {
          setOpen("message");
        }}
      >
        New message
      </button>
      <button
        type="button"
        aria-haspopup="dialog"
        onClick={() => {
          setOpen("group");
        }}
      >
        New group
      </button>
      <NewMessageDialog open={open === "message"} onClose={close} />
      <NewGroupDialog open={open === "group"} onClose={close} />
    </div>
  );
}
