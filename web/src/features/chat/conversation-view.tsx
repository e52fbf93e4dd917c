/**
 * One conversation: the header, the message list (grouped by day and sender, own on the right,
 * a "new messages" divider, history paging backwards on scroll), typing, the composer or the
 * join bar, and the member panel. This view opens and closes the conversation in the engine,
 * seeds receipts from the member list, and joins or leaves the room.
 */
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useRef, useState } from "react";
import { useNavigate, useParams } from "react-router";

import { describeError } from "@/api/errors";
import { useConversation, useConversations, useMembers } from "@/api/queries";
import { panelIn } from "@/components/motion";
import { Popup, type PopupContent } from "@/components/popup";
import { Composer } from "@/features/chat/composer";
import { ConversationHeader } from "@/features/chat/conversation-header";
import { MemberPanel } from "@/features/chat/member-panel";
import { MessageList } from "@/features/chat/message-list";
import { TypingLine } from "@/features/chat/typing-line";
import { useFirstUnreadSeq } from "@/features/chat/use-first-unread-seq";
import { useSession } from "@/session/session";
import { useEngine } from "@/store/react";

export function ConversationRoute() {
  const { id = "" } = useParams();
  return <ConversationView key={id} id={id} />;
}

function ConversationView({ id }: { id: string }) {
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

  const name = conversation.data?.name ?? summary?.name ?? "Conversation";
  return (
    <section className="conversation" ref={panel} aria-labelledby="conversation-title">
      <ConversationHeader
        name={name}
        topic={conversation.data?.topic}
        memberCount={members.data?.members.length}
        showMembers={showMembers}
        onToggleMembers={() => {
          setShowMembers((v) => !v);
        }}
        onLeave={isMember && conversation.data?.kind === "room" ? () => void leave() : undefined}
      />
      <div className="conversation-body">
        <div className="conversation-main">
          <MessageList id={id} firstUnreadSeq={firstUnreadSeq ?? Number.POSITIVE_INFINITY} />
          <TypingLine id={id} />
          {isMember ? (
            <Composer id={id} />
          ) : summaries.isSuccess ? (
            <div className="join-bar">
              <p>You're reading this room. Join to send messages.</p>
              <button type="button" className="primary" onClick={() => void join()}>
                Join room
              </button>
            </div>
          ) : null}
        </div>
        {showMembers && <MemberPanel members={members.data?.members} />}
      </div>
      <Popup content={popup} onClose={closePopup} />
    </section>
  );
}
