/**
 * Find people by display name or exact email (`GET /api/v1/users?q=`) and pick one. Each result
 * shows the person's presence when it is shared with you (people you already talk to).
 */
import { useDeferredValue, useId, useState } from "react";

import { useUserSearch } from "@/api/queries";
import type { PublicUser } from "@/api/types";
import { Presence } from "@/features/conversations/presence";
import { useWatchPresence } from "@/store/use-watch-presence";

interface MemberPickerProps {
  readonly label: string;
  readonly onPick: (user: PublicUser) => void;
  /** Never offered (yourself). */
  readonly hidden?: ReadonlySet<string>;
  /** Offered as already chosen (in the group, or picked). */
  readonly chosen?: ReadonlySet<string>;
  readonly chosenLabel?: string;
  readonly disabled?: boolean;
}

export function MemberPicker({ label, onPick, hidden, chosen, chosenLabel = "added", disabled }: MemberPickerProps) {
  const [q, setQ] = useState("");
  const query = useDeferredValue(q).trim();
  const results = useUserSearch(query);
  const listId = useId();
  const people = (results.data ?? []).filter((u) => hidden?.has(u.user_id) !== true);
  // Shown only for people the server lets you see (a shared conversation).
  useWatchPresence(people.map((u) => u.user_id));

  return (
    <div className="picker">
      <label>
        {label}
        <input
          type="search"
          placeholder="Display name or exact email"
          value={q}
          autoComplete="off"
          aria-controls={listId}
          disabled={disabled}
          onChange={(e) => {
            setQ(e.target.value);
          }}
        />
      </label>
      <ul id={listId} className="picker-results" aria-label="People found" aria-busy={results.isFetching}>
        {query === "" ? (
          <li className="muted small">Type a name or an email address.</li>
        ) : results.isError ? (
          <li className="muted small">Search failed. Try again.</li>
        ) : results.isSuccess && people.length === 0 ? (
          <li className="muted small">Nobody found. For an email, type all of it.</li>
        ) : (
          people.map((u) => {
            const isChosen = chosen?.has(u.user_id) === true;
            return (
              <li key={u.user_id}>
                <button
                  type="button"
                  disabled={disabled === true || isChosen}
                  onClick={() => {
                    onPick(u);
                  }}
                >
                  <Presence userId={u.user_id} />
                  <span className="person">{u.display_name}</span>
                  {isChosen && <span className="muted picked">{chosenLabel}</span>}
                </button>
              </li>
            );
          })
        )}
      </ul>
    </div>
  );
}
