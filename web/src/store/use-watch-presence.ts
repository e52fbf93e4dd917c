/** Watch the presence of the people a view shows, while it is mounted (store/presence-watch). */
import { useEffect } from "react";

import { useEngine } from "@/store/react";

export function useWatchPresence(userIds: readonly string[] | undefined): void {
  const engine = useEngine();
  // One effect per distinct list, not per render.
  const key = (userIds ?? []).join(",");
  useEffect(() => {
    if (key === "") return undefined;
    return engine.presenceWatch.want(key.split(","));
  }, [engine, key]);
}
