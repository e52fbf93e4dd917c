/**
 * The message composer: a draft kept per conversation for the tab's session, Enter sends
 * (Shift+Enter adds a line), typing is announced as the text changes. In a private conversation
 * it shows the encryption line above it (key-change notices, verified marks), and it is disabled
 * while a verified contact's changed key waits to be accepted.
 */
import { useEffect, useRef, useState, type KeyboardEvent } from "react";

import { BlockedNotice, SecurityBar, useConversationSecurity } from "@/features/chat/security-bar";
import { useEngine } from "@/store/react";

function draftKey(id: string): string {
  return `hushroom-draft-${id}`;
}

export function Composer({ id }: { id: string }) {
  const engine = useEngine();
  const [text, setText] = useState(() => sessionStorage.getItem(draftKey(id)) ?? "");
  const area = useRef<HTMLTextAreaElement>(null);
  const security = useConversationSecurity(id);
  const blocked = security.blocked.length > 0;

  useEffect(() => {
    if (text === "") sessionStorage.removeItem(draftKey(id));
    else sessionStorage.setItem(draftKey(id), text);
  }, [id, text]);

  const send = () => {
    const body = text.trim();
    if (body === "" || blocked) return;
    engine.send(id, body, security.kind);
    setText("");
    area.current?.focus();
  };

  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === "Enter" && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    }
  };

  return (
    <>
    <SecurityBar security={security} />
    <BlockedNotice security={security} />
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <textarea
        ref={area}
        aria-label="Message"
        placeholder="Write a message…"
        title="Enter sends, Shift+Enter adds a new line"
        rows={1}
        value={text}
        maxLength={8000}
        disabled={blocked}
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value !== "") engine.typing(id);
        }}
        onKeyDown={onKey}
      />
      <button type="submit" className="primary" disabled={text.trim() === "" || blocked}>
        Send
      </button>
    </form>
    </>
  );
}
