/**
 * A private group's info panel: its members with roles and presence; admins add and remove
 * people, make or unmake admins and rename the group; anyone leaves (a last admin hands admin to
 * the longest-standing member). Every membership change is a signed entry of the group's log.
 * The panel also says whether the member list the server shows matches the signed log.
 */
import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useRef, useState, type SyntheticEvent } from "react";

import type { Member, PublicUser } from "@/api/types";
import { Popup, type PopupContent } from "@/components/popup";
import { LockIcon } from "@/components/privacy";
import { conversationErrorWords } from "@/features/conversations/error-words";
import { MemberPicker } from "@/features/conversations/member-picker";
import { sidePanelIn } from "@/features/conversations/motion";
import { Presence, PresenceWords } from "@/features/conversations/presence";
import { useGroupFlows } from "@/features/conversations/use-group-flows";
import { useSession } from "@/session/session";
import { useEngine } from "@/store/react";
import { useWatchPresence } from "@/store/use-watch-presence";
import { useUnlockedKeys } from "@/session/unlocked-keys";

import "./conversations.css";

interface GroupInfoPanelProps {
  readonly groupId: string;
  readonly name: string;
  readonly members: readonly Member[] | undefined;
  readonly onClose: () => void;
  /** After the signed-in user left the group. */
  readonly onLeft: () => void;
}

const verifyFlows = () => import("@/session/group-membership");

type Verdict = "verified" | "differs" | "failed";

/** Does the server's member list match the signed log? (null while checking.) */
function useLogVerdict(groupId: string, members: readonly Member[] | undefined): Verdict | null {
  const { api } = useSession();
  const keys = useUnlockedKeys();
  const signature = members?.map((m) => `${m.user_id}:${m.role}`).sort().join(",");
  const check = useQuery({
    queryKey: ["membership", groupId, signature],
    enabled: keys !== null && signature !== undefined,
    retry: false,
    staleTime: 60_000,
    queryFn: async (): Promise<Verdict> => {
      if (keys === null || members === undefined) return "failed";
      const { verifiedMembership } = await verifyFlows();
      const log = await verifiedMembership(api, keys, groupId);
      const same =
        log.state.members.size === members.length &&
        members.every((m) => log.state.members.get(m.user_id) === m.role);
      return same ? "verified" : "differs";
    },
  });
  if (check.isError) return "failed";
  return check.data ?? null;
}

function VerdictLine({ verdict }: { verdict: Verdict | null }) {
  if (verdict === null) return <p className="muted small">Checking the signed member list…</p>;
  if (verdict === "verified") {
    return (
      <p className="small success">
        <span aria-hidden="true">✓ </span>Member list checked against its signatures.
      </p>
    );
  }
  return (
    <p className="notice small" role="alert">
      {verdict === "differs"
        ? "The server's member list differs from the signed one. Don't share anything sensitive until it matches."
        : "We couldn't check this group's signed member list. Don't share anything sensitive until it's checked."}
    </p>
  );
}

export function GroupInfoPanel({ groupId, name, members, onClose, onLeft }: GroupInfoPanelProps) {
  const me = useEngine().userId;
  // The members' current presence when the panel opens (changes are pushed anyway).
  useWatchPresence(members?.map((m) => m.user_id));
  const flows = useGroupFlows();
  const panel = useRef<HTMLElement>(null);
  const [busy, setBusy] = useState(false);
  const [popup, setPopup] = useState<PopupContent | null>(null);
  const [status, setStatus] = useState("");
  // The name being typed (null: not edited, show the group's current name).
  const [draft, setDraft] = useState<string | null>(null);
  const newName = draft ?? name;
  const [confirmLeave, setConfirmLeave] = useState(false);
  const verdict = useLogVerdict(groupId, members);

  // Keyboard users land in the panel when it opens, and back on its toggle when it closes.
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    const element = panel.current;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    sidePanelIn(element);
    heading.current?.focus();
    return () => {
      const active = document.activeElement;
      if (active === null || active === document.body || element?.contains(active) === true) opener?.focus();
    };
  }, []);

  const mine = members?.find((m) => m.user_id === me);
  const isAdmin = mine?.role === "admin";
  const inGroup = useMemo(() => new Set(members?.map((m) => m.user_id)), [members]);
  const hidden = useMemo(() => new Set([me]), [me]);
  const sorted = useMemo(
    () =>
      [...(members ?? [])].sort(
        (a, b) =>
          (a.role === "admin" ? 0 : 1) - (b.role === "admin" ? 0 : 1) ||
          a.joined_at - b.joined_at ||
          a.user_id.localeCompare(b.user_id),
      ),
    [members],
  );

  const run = async (action: () => Promise<void>, done: string) => {
    setBusy(true);
    setStatus("");
    try {
      await action();
      setStatus(done);
    } catch (error) {
      setPopup(conversationErrorWords(error));
    } finally {
      setBusy(false);
    }
  };

  const rename = (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const next = newName.trim();
    if (next === "" || next === name) return;
    void run(async () => {
      await flows.renameGroup(groupId, next);
      setDraft(null);
    }, `Renamed to ${next}.`);
  };

  const add = (user: PublicUser) => {
    void run(() => flows.addMembers(groupId, [user.user_id]), `${user.display_name} was added.`);
  };

  const leave = async () => {
    setBusy(true);
    try {
      await flows.leaveGroup(groupId);
      onLeft();
    } catch (error) {
      setPopup(conversationErrorWords(error));
      setBusy(false);
    }
  };

  return (
    <aside
      id="group-panel"
      className="group-panel"
      aria-label="Group info"
      ref={panel}
      aria-busy={busy}
      onKeyDown={(e) => {
        // Escape closes the panel (a popup above it handles its own Escape; in a field with
        // text, Escape clears the text first).
        const typing = e.target instanceof HTMLInputElement && e.target.value !== "";
        if (e.key === "Escape" && popup === null && !typing && !e.defaultPrevented) onClose();
      }}
    >
      <header className="sheet-header">
        <h3 ref={heading} tabIndex={-1}>
          Group info
        </h3>
        <button type="button" className="ghost dialog-close" aria-label="Close group info" onClick={onClose}>
          ✕
        </button>
      </header>

      <p className="muted small">
        <LockIcon />{" "}End-to-end encrypted. Member changes are signed by an admin&apos;s device.
      </p>

      {isAdmin && (
        <form onSubmit={rename} aria-label="Rename group">
          <label>
            Group name
            <input
              value={newName}
              maxLength={80}
              disabled={busy}
              onChange={(e) => {
                setDraft(e.target.value);
              }}
            />
          </label>
          <button type="submit" disabled={busy || newName.trim() === "" || newName.trim() === name}>
            Rename
          </button>
        </form>
      )}

      <section aria-labelledby="group-members-title">
        <h3 id="group-members-title">
          Members{members === undefined ? "" : ` (${String(members.length)})`}
        </h3>
        <VerdictLine verdict={verdict} />
        <ul className="group-members" aria-label="Group members">
          {sorted.map((m) => (
            <MemberRow
              key={m.user_id}
              member={m}
              me={me}
              canManage={isAdmin}
              busy={busy}
              onRole={(role, who) => {
                void run(
                  () => flows.setRole(groupId, m.user_id, role),
                  role === "admin" ? `${who} is now an admin.` : `${who} is no longer an admin.`,
                );
              }}
              onRemove={(who) => {
                void run(() => flows.removeMember(groupId, m.user_id), `${who} was removed.`);
              }}
            />
          ))}
        </ul>
      </section>

      {isAdmin && (
        <section aria-label="Add people">
          <MemberPicker
            label="Add people"
            hidden={hidden}
            chosen={inGroup}
            chosenLabel="in the group"
            disabled={busy}
            onPick={add}
          />
        </section>
      )}

      <p className="small" role="status" aria-live="polite">
        {status}
      </p>

      {mine !== undefined &&
        (confirmLeave ? (
          <div className="actions" role="group" aria-label="Confirm leaving">
            <p className="small">
              Leave {name}? You won&apos;t see new messages{isAdmin ? "; if you're the last admin, the longest-standing member becomes admin" : ""}.
            </p>
            <button
              type="button"
              className="ghost"
              onClick={() => {
                setConfirmLeave(false);
              }}
              disabled={busy}
            >
              Stay
            </button>
            <button type="button" className="danger" onClick={() => void leave()} disabled={busy}>
              Leave group
            </button>
          </div>
        ) : (
          <button
            type="button"
            className="danger leave-group"
            onClick={() => {
              setConfirmLeave(true);
            }}
            disabled={busy}
          >
            Leave group…
          </button>
        ))}

      <Popup
        content={popup}
        onClose={() => {
          setPopup(null);
        }}
      />
    </aside>
  );
}

interface MemberRowProps {
  readonly member: Member;
  readonly me: string;
  readonly canManage: boolean;
  readonly busy: boolean;
  readonly onRole: (role: "admin" | "member", who: string) => void;
  readonly onRemove: (who: string) => void;
}

function MemberRow({ member, me, canManage, busy, onRole, onRemove }: MemberRowProps) {
  const { api } = useSession();
  const user = useQuery({ queryKey: ["user", member.user_id], queryFn: () => api.user(member.user_id), staleTime: 5 * 60_000 });
  const who = user.data?.display_name ?? "this member";
  const self = member.user_id === me;
  return (
    <li className="group-member">
      <Presence userId={member.user_id} />
      <span className="who">
        {user.data?.display_name ?? "…"}
        {self && <span className="muted small"> (you)</span>}{" "}
        <span className="role-tag">{member.role === "admin" ? "admin" : "member"}</span>{" "}
        <PresenceWords userId={member.user_id} />
      </span>
      {canManage && (
        <span className="member-actions">
          {member.role === "admin" ? (
            <button
              type="button"
              disabled={busy}
              aria-label={self ? "Stop being an admin" : `Remove admin from ${who}`}
              onClick={() => {
                onRole("member", who);
              }}
            >
              Remove admin
            </button>
          ) : (
            <button
              type="button"
              disabled={busy}
              aria-label={`Make ${who} an admin`}
              onClick={() => {
                onRole("admin", who);
              }}
            >
              Make admin
            </button>
          )}
          {!self && (
            <button
              type="button"
              className="danger"
              disabled={busy}
              aria-label={`Remove ${who} from the group`}
              onClick={() => {
                onRemove(who);
              }}
            >
              Remove
            </button>
          )}
        </span>
      )}
    </li>
  );
}
