/**
 * One conversation: the header, the message list (grouped by day and sender, own on the right,
 * a "new messages" divider, history paging backwards on scroll), typing, the composer or the
 * join bar, and the member panel. This view opens and closes the conversation in the engine,
 * seeds receipts from the member list, and joins or leaves the room.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState, type ReactNode } from "react";
import { useNavigate, useParams } from "react-router";

import { describeError } from "@/api/errors";
import {
  useConversation,
  useConversationName,
  useConversations,
  useDmPartner,
  useMembers,
} from "@/api/queries";
import type { Member } from "@/api/types";
import { panelIn } from "@/components/motion";
import { Popup, type PopupContent } from "@/components/popup";
import { PrivacyLine } from "@/components/privacy";
import { Composer } from "@/features/chat/composer";
import { ConversationHeader } from "@/features/chat/conversation-header";
import { MemberPanel } from "@/features/chat/member-panel";
import { MessageList } from "@/features/chat/message-list";
import { TypingLine } from "@/features/chat/typing-line";
import { useFirstUnreadSeq } from "@/features/chat/use-first-unread-seq";
import { useSession } from "@/session/session";
import { useEngine } from "@/store/react";

/** What a group's info panel gets (the panel itself comes from the app: features stay apart). */
export interface GroupPanelProps {
  readonly groupId: string;
  readonly name: string;
  readonly members: readonly Member[] | undefined;
  readonly onClose: () => void;
  /** After the signed-in user left the group. */
  readonly onLeft: () => void;
}

/** What the requests-and-blocking slot gets (the feature comes from the app, like the panel). */
export interface RequestsSlotProps {
  readonly id: string;
  readonly kind: "room" | "dm" | "group" | undefined;
  readonly partnerId: string | undefined;
  /** After the conversation went away for the signed-in user (declined, hidden, left, blocked). */
  readonly onGone: () => void;
}

interface RouteProps {
  /** Renders a group's info panel; without it groups show the plain member list. */
  readonly groupPanel?: ((props: GroupPanelProps) => ReactNode) | undefined;
  /** Renders the message-request banner and the conversation's actions menu (members only). */
  readonly requests?: ((props: RequestsSlotProps) => ReactNode) | undefined;
}

export function ConversationRoute({ groupPanel, requests }: RouteProps) {
  const { id = "" } = useParams();
  return <ConversationView key={id} id={id} groupPanel={groupPanel} requests={requests} />;
}

function ConversationView({ id, groupPanel, requests }: { id: string } & RouteProps) {
  const engine = useEngine();
  const { api } = useSession();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const conversation = useConversation(id);
  const summaries = useConversations();
  const summary = summaries.data?.find((c) => c.id === id);
  const isMember = summary !== undefined;
  const members = useMembers(id);
  const [showMembers, setShowMembers] = useState(false);
  const [popup, setPopup] = useState<PopupContent | null>(null);
  const closePopup = useCallback(() => {
    setPopup(null);
  }, []);
  const panel = useRef<HTMLElement>(null);
  const firstUnreadSeq = useFirstUnreadSeq(id, summary);

  useEffect(() => {
    panelIn(panel.current);
  }, []);

  useEffect(() => {
    engine.open(id).catch((error: unknown) => {
      setPopup(describeError(error));
    });
    return () => {
      engine.close(id);
    };
  }, [engine, id]);

  useEffect(() => {
    if (members.data === undefined) return;
    engine.seedReceipts(
      id,
      Object.fromEntries(members.data.members.map((m) => [m.user_id, m.last_read_seq])),
    );
  }, [engine, id, members.data]);

  const join = async () => {
    try {
      await api.joinRoom(id);
      await queryClient.invalidateQueries({ queryKey: ["conversations"] });
      await queryClient.invalidateQueries({ queryKey: ["members", id] });
      engine.realtime.resume();
    } catch (error) {
      setPopup(describeError(error));
    }
  };

  const leave = async () => {
    try {
      await api.leaveRoom(id);
      engine.close(id);
      engine.store.forget(id);
      await queryClient.invalidateQueries({ queryKey: ["conversations"] });
      void navigate("/");
    } catch (error) {
      setPopup(describeError(error));
    }
  };

  const kind = conversation.data?.kind ?? summary?.kind;
  const name = useConversationName(id, kind, conversation.data?.name ?? summary?.name, engine.userId);
  const partnerId = useDmPartner(id, kind, engine.userId);

  const left = () => {
    engine.close(id);
    engine.store.forget(id);
    void queryClient.invalidateQueries({ queryKey: ["conversations"] });
    void navigate("/");
  };

  return (
    <section className="conversation" ref={panel} aria-labelledby="conversation-title">
      <ConversationHeader
        name={name}
        topic={conversation.data?.topic}
        kind={kind}
        partnerId={partnerId}
        memberCount={members.data?.members.length}
        showMembers={showMembers}
        onToggleMembers={() => {
          setShowMembers((v) => !v);
        }}
        onLeave={isMember && conversation.data?.kind === "room" ? () => void leave() : undefined}
      />
      <div className="conversation-body">
        <div className="conversation-main">
          {kind !== undefined && <PrivacyLine kind={kind} />}
          {isMember && requests?.({ id, kind, partnerId, onGone: left })}
          <MessageList id={id} firstUnreadSeq={firstUnreadSeq ?? Number.POSITIVE_INFINITY} />
          <TypingLine id={id} />
          {isMember ? (
            <Composer id={id} />
          ) : summaries.isSuccess ? (
            <div className="join-bar">
              <p>
                {kind === "room"
                  ? "You're reading this room. Join to send messages."
                  : "You're not a member of this conversation."}
              </p>
              {kind === "room" && (
                <button type="button" className="primary" onClick={() => void join()}>
                  Join room
                </button>
              )}
            </div>
          ) : null}
        </div>
        {showMembers &&
          (kind === "group" && groupPanel !== undefined ? (
            groupPanel({
              groupId: id,
              name,
              members: members.data?.members,
              onClose: () => {
                setShowMembers(false);
              },
              onLeft: left,
            })
          ) : (
            <MemberPanel members={members.data?.members} />
          ))}
      </div>
      <Popup content={popup} onClose={closePopup} />
    </section>
  );
}
