/** Connection state, as a banner that never blocks reading. */
import { useChat } from "@/store/react";

const TEXT = {
  connecting: "Connecting…",
  reconnecting: "Reconnecting… Messages you send now will go out when we're back.",
  offline: "You're offline. You can keep reading; messages you send will go out when you're back online.",
} as const;

export function ConnectionBanner() {
  const status = useChat((s) => s.connection);
  const text = status === "ready" || status === "stopped" ? "" : TEXT[status];
  return (
    <div className={`banner ${text === "" ? "hidden" : status}`} role="status" aria-live="polite">
      {text}
    </div>
  );
}
