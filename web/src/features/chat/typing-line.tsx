/** Who is typing in a conversation, by name, under the message list. */
import { useUser } from "@/api/queries";
import { typingText } from "@/features/chat/format";
import { useChat } from "@/store/react";

function TypingName({ userId }: { userId: string }) {
  return useUser(userId).data?.display_name ?? "Someone";
}

export function TypingLine({ id }: { id: string }) {
  const typing = useChat((s) => s.conversations[id]?.typing);
  const users = Object.keys(typing ?? {});
  return (
    <div className="typing small muted" aria-live="polite">
      {users.length > 0 && <TypingNames users={users} />}
    </div>
  );
}

function TypingNames({ users }: { users: string[] }) {
  // Names resolve asynchronously; render them through the same text helper.
  const names = users.map((u) => <TypingName key={u} userId={u} />);
  if (users.length > 2) return <>{typingText(users)}</>;
  if (users.length === 2) {
    return (
      <>
        {names[0]} and {names[1]} are typing…
      </>
    );
  }
  return <>{names[0]} is typing…</>;
}
