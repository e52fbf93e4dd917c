/** Browse and search public rooms; create one; join. */
import { useQueryClient } from "@tanstack/react-query";
import { useCallback, useDeferredValue, useState, type SyntheticEvent } from "react";
import { Link, useNavigate } from "react-router";

import { describeError } from "@/api/errors";
import { useConversations, useRoomSearch } from "@/api/queries";
import { Popup, type PopupContent } from "@/components/popup";
import { field } from "@/components/form";
import { useSession } from "@/session/session";

export function BrowseRooms() {
  const { api } = useSession();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [q, setQ] = useState("");
  const query = useDeferredValue(q);
  const rooms = useRoomSearch(query);
  const mine = useConversations();
  const joined = new Set(mine.data?.map((c) => c.id));
  const [popup, setPopup] = useState<PopupContent | null>(null);
  const [busy, setBusy] = useState(false);
  const closePopup = useCallback(() => {
    setPopup(null);
  }, []);

  const create = async (event: SyntheticEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const name = field(form, "name").trim();
    const topic = field(form, "topic").trim();
    if (name === "") return;
    setBusy(true);
    try {
      const room = await api.createRoom(name, topic === "" ? null : topic);
      await queryClient.invalidateQueries({ queryKey: ["conversations"] });
      await queryClient.invalidateQueries({ queryKey: ["rooms"] });
      void navigate(`/c/${room.id}`);
    } catch (error) {
      setPopup(describeError(error));
    } finally {
      setBusy(false);
    }
  };

  const join = async (id: string) => {
    try {
      await api.joinRoom(id);
      await queryClient.invalidateQueries({ queryKey: ["conversations"] });
      void navigate(`/c/${id}`);
    } catch (error) {
      setPopup(describeError(error));
    }
  };

  return (
    <section className="browse" aria-labelledby="browse-title">
      <header className="conversation-header">
        <Link to="/" className="back" aria-label="Back to conversations">
          ‹
        </Link>
        <h2 id="browse-title">Public rooms</h2>
      </header>
      <div className="browse-body">
        <label className="search">
          <span className="visually-hidden">Search rooms</span>
          <input
            type="search"
            placeholder="Search rooms by name"
            value={q}
            onChange={(e) => {
              setQ(e.target.value);
            }}
          />
        </label>
        <ul className="room-results" aria-label="Rooms" aria-busy={rooms.isFetching}>
          {rooms.data?.map((r) => (
            <li key={r.id}>
              <div>
                <strong>{r.name}</strong>
                {r.topic != null && r.topic !== "" && <p className="muted small">{r.topic}</p>}
                <p className="muted small">
                  {r.member_count} {r.member_count === 1 ? "member" : "members"}
                </p>
              </div>
              {joined.has(r.id) ? (
                <Link className="button ghost" to={`/c/${r.id}`}>
                  Open
                </Link>
              ) : (
                <button type="button" className="primary" onClick={() => void join(r.id)} aria-label={`Join ${r.name ?? "room"}`}>
                  Join
                </button>
              )}
            </li>
          ))}
          {rooms.data?.length === 0 && <li className="muted">No rooms match.</li>}
        </ul>
        <form className="create-room" onSubmit={(e) => void create(e)} aria-labelledby="create-title">
          <h3 id="create-title">Create a room</h3>
          <label>
            Room name
            <input name="name" required maxLength={80} disabled={busy} />
          </label>
          <label>
            Topic (optional)
            <input name="topic" maxLength={300} disabled={busy} />
          </label>
          <button type="submit" className="primary" disabled={busy}>
            Create room
          </button>
        </form>
      </div>
      <Popup content={popup} onClose={closePopup} />
    </section>
  );
}
