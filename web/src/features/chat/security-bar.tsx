/**
 * What a private conversation shows about its keys, above the composer: a notice line for each
 * identity-key change of a member, each contact with a verified mark or a "Verify" button (the
 * safety-number dialog), and — when a contact this user verified changed keys — why sending is
 * blocked, with "Accept new key".
 */
import { lazy, Suspense, useCallback, useEffect, useState } from "react";

import { useConversation, useMembers, useUser } from "@/api/queries";
import { UserName } from "@/features/chat/user-name";
import type { KeyChangeEvent } from "@/session/contact-keys";
import type { E2ee } from "@/session/e2ee";
import { useE2ee, useTrust } from "@/session/use-e2ee";
import type { KeyChangeNotice } from "@/storage/local-crypto-store";
import { useEngine } from "@/store/react";

import "@/features/chat/security-bar.css";

export const DIRECTORY_REFRESH_MS = 20_000;
const SHOWN_CONTACTS = 8;

// The safety number needs the crypto core (and the QR encoder): loaded when first opened.
const SafetyNumberDialog = lazy(() =>
  import("@/features/chat/safety-number-dialog").then((m) => ({ default: m.SafetyNumberDialog })),
);

export interface ContactSecurity {
  readonly userId: string;
  /** The pinned identity key (null until loaded). */
  readonly key: Uint8Array | null;
  readonly verified: boolean;
  /** A verified contact's unaccepted key change: sending is blocked. */
  readonly changed: KeyChangeEvent | undefined;
}

export interface ConversationSecurity {
  readonly kind: "room" | "dm" | "group" | undefined;
  readonly e2ee: E2ee | null;
  readonly contacts: readonly ContactSecurity[];
  readonly notices: readonly KeyChangeNotice[];
  readonly blocked: readonly ContactSecurity[];
  readonly accept: (userId: string) => Promise<void>;
}

export function useConversationSecurity(id: string): ConversationSecurity {
  const engine = useEngine();
  const conversation = useConversation(id);
  const members = useMembers(id);
  const kind = conversation.data?.kind;
  const e2ee = useE2ee(kind === "dm" || kind === "group");
  const trust = useTrust(e2ee);
  const [keys, setKeys] = useState<Readonly<Record<string, Uint8Array>>>({});
  const [round, setRound] = useState(0);
  const me = engine.userId.toLowerCase();
  const contactIds = (members.data?.members ?? []).map((m) => m.user_id.toLowerCase()).filter((u) => u !== me);
  // Polled: the contacts shown (a big group's others are checked when a key set is made).
  const contactKey = contactIds.slice(0, SHOWN_CONTACTS).join(",");

  useEffect(() => {
    if (e2ee === null || contactKey === "") return;
    let live = true;
    const load = async () => {
      for (const userId of contactKey.split(",")) {
        try {
          const directory = await e2ee.directories.directory(userId, true);
          if (live) setKeys((k) => ({ ...k, [userId]: directory.identityKey.key }));
        } catch {
          // A blocked change keeps the pinned key (shown from the trust state); others retry.
        }
      }
    };
    void load();
    const timer = window.setInterval(() => void load(), DIRECTORY_REFRESH_MS);
    return () => {
      live = false;
      window.clearInterval(timer);
    };
  }, [e2ee, contactKey, round]);

  const contacts = contactIds.map((userId): ContactSecurity => {
    const changed = trust.blocked[userId];
    const key = changed?.pinned ?? keys[userId] ?? null;
    return {
      userId,
      key,
      verified: key !== null && e2ee !== null && changed === undefined && e2ee.trust.isVerified(userId, key),
      changed,
    };
  });
  const notices = trust.notices.filter((n) => contactIds.includes(n.contactUserId));
  const accept = useCallback(
    async (userId: string) => {
      if (e2ee === null) return;
      await e2ee.trust.accept(userId);
      setRound((r) => r + 1);
      // Messages waiting because of the block go out now.
      for (const entry of engine.realtime.outbox) {
        if (entry.conversationId === id && entry.failed) void engine.realtime.retry(entry.clientMsgId);
      }
    },
    [e2ee, engine, id],
  );
  return { kind, e2ee, contacts, notices, blocked: contacts.filter((c) => c.changed !== undefined), accept };
}

function when(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

function NoticeLine({ notice }: { notice: KeyChangeNotice }) {
  return (
    <p className="key-change-notice small" role="status" data-testid="key-change-notice">
      <UserName userId={notice.contactUserId} />'s identity key changed ({when(notice.seenAt)}). They may have
      reset their account or a new key was put in their place: compare safety numbers to be sure.
    </p>
  );
}

function ContactChip({ contact, security }: { contact: ContactSecurity; security: ConversationSecurity }) {
  const [open, setOpen] = useState(false);
  const user = useUser(contact.userId);
  const name = user.data?.display_name ?? "this contact";
  const e2ee = security.e2ee;
  const dialogKey = contact.changed?.presented ?? contact.key;
  return (
    <span className="contact-chip" data-testid="contact-security" data-user-id={contact.userId}>
      <span className="name">{name}</span>
      {contact.verified && (
        <span className="verified-mark" data-testid="verified-mark" title="Verified: safety numbers compared">
          ✓ Verified
        </span>
      )}
      <button
        type="button"
        className="link"
        disabled={dialogKey === null || e2ee === null}
        onClick={() => {
          setOpen(true);
        }}
      >
        {contact.verified ? "Safety number" : `Verify ${name}`}
      </button>
      {open && dialogKey !== null && e2ee !== null && (
        <Suspense fallback={null}>
        <SafetyNumberDialog
          contactName={name}
          contactKey={dialogKey}
          verified={contact.verified}
          changed={contact.changed !== undefined}
          onVerify={() => {
            void e2ee.trust.markVerified(contact.userId, dialogKey);
            setOpen(false);
          }}
          onUnverify={() => {
            void e2ee.trust.unmarkVerified(contact.userId);
            setOpen(false);
          }}
          onAccept={() => {
            void security.accept(contact.userId);
            setOpen(false);
          }}
          onClose={() => {
            setOpen(false);
          }}
        />
        </Suspense>
      )}
    </span>
  );
}

/** The notices and contacts line of a private conversation (nothing for a public room). */
export function SecurityBar({ security }: { security: ConversationSecurity }) {
  if (security.kind !== "dm" && security.kind !== "group") return null;
  return (
    <div className="security-bar" aria-label="Encryption">
      {security.notices.map((n) => (
        <NoticeLine key={`${n.contactUserId}-${n.newKey}`} notice={n} />
      ))}
      <p className="small muted security-contacts">
        <span aria-hidden="true">🔒</span> End-to-end encrypted
        {security.contacts.slice(0, SHOWN_CONTACTS).map((c) => (
          <ContactChip key={c.userId} contact={c} security={security} />
        ))}
      </p>
    </div>
  );
}

/** Why the composer is disabled, with the way out. */
export function BlockedNotice({ security }: { security: ConversationSecurity }) {
  const first = security.blocked[0];
  if (first === undefined) return null;
  return (
    <div className="blocked-notice" role="alert" data-testid="send-blocked">
      <p>
        <UserName userId={first.userId} />'s identity key changed. You had verified them, so sending is paused
        until you accept the new key (compare the new safety number first).
      </p>
      <button
        type="button"
        className="primary"
        onClick={() => {
          void security.accept(first.userId);
        }}
      >
        Accept new key
      </button>
    </div>
  );
}
