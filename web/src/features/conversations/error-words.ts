/** Plain words for what starting and managing private conversations can throw. */
import { ApiError, describeError } from "@/api/errors";
import type { PopupContent } from "@/components/popup";

/**
 * By name, not `instanceof`: the group flows (and the crypto core behind them) load on first
 * use, and these words must not pull them into the start-up chunk.
 */
export function conversationErrorWords(error: unknown): PopupContent {
  if (error instanceof Error) {
    switch (error.name) {
      case "GroupActionRefused":
        return refusal((error as Error & { reason?: string }).reason);
      case "MembershipBusy":
        return {
          title: "The member list kept changing",
          detail: "Someone else is changing this group right now. Wait a moment and try again.",
        };
      case "MembershipLogInvalid":
        return {
          title: "This group's member list can't be trusted",
          detail:
            "Its signed history doesn't check out, so nothing was changed. The server may have altered it. Tell the other members.",
        };
      case "MembershipLogTruncated":
        return {
          title: "Part of this group's history is missing",
          detail:
            "The server now shows fewer changes than this browser already checked, so nothing was changed. Tell the other members.",
        };
      case "IdentityKeyChanged":
        return {
          title: "Someone's security key changed",
          detail:
            "A member's identity key is not the one this browser knew. Compare safety numbers with them before changing this group.",
        };
      case "KeyDirectoryInvalid":
        return {
          title: "Someone's keys don't check out",
          detail: "The server sent keys that are not properly signed, so nothing was changed.",
        };
      case "DeviceNotCertifiedHere":
        return {
          title: "This browser isn't set up for private conversations yet",
          detail: "Confirm this device from Settings (or sign in again), then try again.",
        };
      default:
        break;
    }
  }
  if (error instanceof ApiError) {
    switch (error.code) {
      case "forbidden":
        return { title: "Only admins can do that", detail: "Ask an admin of this group." };
      case "not_a_member":
        return { title: "You're not in this conversation", detail: "You may have left it or been removed." };
      case "not_found":
        return { title: "We couldn't find that", detail: "The person or conversation may no longer exist." };
      case "membership_conflict":
        return {
          title: "The member list just changed",
          detail: "Someone else changed this group at the same moment. Try again.",
        };
      case "device_not_certified":
        return {
          title: "This browser isn't set up for private conversations yet",
          detail: "Confirm this device from Settings (or sign in again), then try again.",
        };
      case "validation_failed":
        return { title: "Something doesn't look right", detail: error.message };
      default:
        break;
    }
  }
  return describeError(error);
}

function refusal(reason: string | undefined): PopupContent {
  switch (reason) {
    case "not_admin":
      return { title: "Only admins can do that", detail: "Ask an admin of this group." };
    case "not_member":
      return { title: "Not in this group", detail: "That person (or you) is no longer a member." };
    case "already_member":
      return { title: "Already a member", detail: "That person is in this group already." };
    case "last_admin":
      return {
        title: "A group needs an admin",
        detail: "Make someone else an admin first, or leave the group: the longest-standing member then becomes admin.",
      };
    default:
      return { title: "That change isn't allowed", detail: "The group's rules don't allow it." };
  }
}
