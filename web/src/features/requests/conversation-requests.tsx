/**
 * Requests and blocking inside a conversation view: the actions menu of a DM or group and, while
 * the conversation is a request for the signed-in user, the "Message request" banner. Mounted by
 * the chat view with one line; everything else lives in this feature.
 */
import type { ComponentProps } from "react";

import { useConversations, useUser } from "@/api/queries";
import type { ConversationSummary } from "@/api/types";
import { ConversationMenu } from "@/features/requests/conversation-menu";
import { RequestBanner } from "@/features/requests/request-banner";
import { useBlocks, useConsentActions } from "@/features/requests/use-consent";

import "./requests.css";

interface Props {
  readonly id: string;
  readonly kind: ConversationSummary["kind"] | undefined;
  /** A DM's other user. */
  readonly partnerId?: string | undefined;
  /** After the conversation went away for the user (declined, hidden, left or blocked). */
  readonly onGone: () => void;
}

export function ConversationRequests({ id, kind, partnerId, onGone }: Props) {
  const summaries = useConversations();
  const summary = summaries.data?.find((c) => c.id === id);
  if (summary === undefined || (kind !== "dm" && kind !== "group")) return null;
  return (
    <PrivateConversationRequests
      id={id}
      kind={kind}
      partnerId={partnerId}
      request={summary.request}
      onGone={onGone}
    />
  );
}

function PrivateConversationRequests({
  id,
  kind,
  partnerId,
  request,
  onGone,
}: {
  readonly id: string;
  readonly kind: "dm" | "group";
  readonly partnerId: string | undefined;
  readonly request: boolean;
  readonly onGone: () => void;
}) {
  const actions = useConsentActions(id);
  const blocks = useBlocks();
  const blocked =
    partnerId === undefined || blocks.data === undefined
      ? undefined
      : blocks.data.blocks.some((b) => b.user_id === partnerId);
  return (
    <div className="conversation-requests">
      <ConversationMenu kind={kind} partnerId={partnerId} blocked={blocked} actions={actions} onGone={onGone} />
      {request &&
        (partnerId === undefined ? (
          // A group (or a DM whose partner is not known yet): no user to look up.
          <RequestBanner kind={kind} actions={actions} onGone={onGone} />
        ) : (
          <PartnerRequestBanner kind={kind} partnerId={partnerId} actions={actions} onGone={onGone} />
        ))}
    </div>
  );
}

/** A DM's request banner, named after its partner (looked up only here, never with an empty id). */
function PartnerRequestBanner({
  partnerId,
  ...banner
}: Omit<ComponentProps<typeof RequestBanner>, "partnerName"> & { readonly partnerId: string }) {
  const partner = useUser(partnerId);
  return <RequestBanner {...banner} partnerId={partnerId} partnerName={partner.data?.display_name} />;
}
