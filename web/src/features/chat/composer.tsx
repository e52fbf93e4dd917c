/**
 * The message composer: a draft kept per conversation for the tab's session, Enter sends
 * (Shift+Enter adds a line), typing is announced as the text changes.
 */
import { useEffect, useRef, useState, type KeyboardEvent } from "react";

import { useEngine } from "@/store/react";

function draftKey(id: string): string {
  return `hushroom-draft-${id}`;
}

export function Composer({ id }: { id: string }) {
  const engine = useEngine();
  const [text, setText] = useState(() => sessionStorage.getItem(draftKey(id)) ?? "");
  const area = useRef<HTMLTextAreaElement>(null);

  useEffect(() => {
    if (text === "") sessionStorage.removeItem(draftKey(id));
    else sessionStorage.setItem(draftKey(id), text);
  }, [id, text]);

  const send = () => {
    const body = text.trim();
    if (body === "") return;
    engine.send(id, body);
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
        onChange={(e) => {
          setText(e.target.value);
          if (e.target.value !== "") engine.typing(id);
        }}
        onKeyDown={onKey}
      />
      <button type="submit" className="primary" disabled={text.trim() === ""}>
        Send
      </button>
    </form>
  );
}
