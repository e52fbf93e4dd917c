/** The members of a conversation with their presence and role. */
import { PresenceDot, PresenceText } from "@/features/chat/presence-dot";
import { UserName } from "@/features/chat/user-name";
import { useWatchPresence } from "@/store/use-watch-presence";

interface Member {
  readonly user_id: string;
  readonly role: string;
}

export function MemberPanel({ members }: { members: readonly Member[] | undefined }) {
  // Room members' presence is not pushed: watch the ones listed (the first 100).
  useWatchPresence(members?.map((m) => m.user_id));
  return (
    <aside id="member-panel" className="members" aria-label="Members">
      <h3>Members</h3>
      <ul>
        {members?.map((m) => (
          <li key={m.user_id}>
            <PresenceDot userId={m.user_id} />
            <span>
              <UserName userId={m.user_id} />
              {m.role === "admin" && <span className="muted small"> · admin</span>}
            </span>
            <PresenceText userId={m.user_id} />
          </li>
        ))}
      </ul>
    </aside>
  );
}
