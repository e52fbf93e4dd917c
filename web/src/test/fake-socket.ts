/**
 * A scripted WebSocket for the transport, engine and view tests: it records the frames sent,
 * opens, delivers server frames and drops when the test says so.
 */
import type { ServerFrame } from "@/transport/frames";
import type { SocketLike } from "@/transport/realtime";

export class FakeSocket implements SocketLike {
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: ((event: Event) => void) | null = null;
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  onerror: ((event: Event) => void) | null = null;
  closed = false;

  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(): void {
    this.closed = true;
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({} as Event);
  }
  receive(frame: ServerFrame): void {
    this.onmessage?.({ data: JSON.stringify(frame) } as MessageEvent);
  }
  /** The server goes away (a restart's 1012, with the close reason given). */
  drop(reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code: 1012, reason } as CloseEvent);
  }
  framesOf(type: string): Record<string, unknown>[] {
    return this.sent.filter((f) => f.type === type);
  }
}

/**
 * A `WebSocket` stand-in for `vi.stubGlobal("WebSocket", FakeWebSocket)`: every socket the code
 * opens is kept in `all` (empty it before each test).
 */
export class FakeWebSocket extends FakeSocket {
  static readonly all: FakeWebSocket[] = [];

  constructor(readonly url: string) {
    super();
    FakeWebSocket.all.push(this);
  }
}
