/**
 * Scrolling the message list: stay at the latest message while the reader is there, keep the
 * view still when older messages are prepended, page history backwards near the top, offer
 * "scroll to latest" otherwise, mark read at the bottom, and slide in newly arrived rows.
 */
import { useLayoutEffect, useRef, useState, type RefObject } from "react";

import { slideIn } from "@/components/motion";
import type { Row } from "@/features/chat/message-rows";
import { useEngine } from "@/store/react";

export interface MessageScroll {
  readonly scroller: RefObject<HTMLDivElement | null>;
  readonly showLatest: boolean;
  readonly onScroll: () => void;
  readonly toLatest: () => void;
  readonly loadOlder: () => void;
}

/** `rows` and `pendingCount` change when rows are added: the view is adjusted after each. */
export function useMessageScroll(
  id: string,
  hasMoreBefore: boolean,
  rows: readonly Row[],
  pendingCount: number,
): MessageScroll {
  const engine = useEngine();
  const scroller = useRef<HTMLDivElement>(null);
  const atBottom = useRef(true);
  const [showLatest, setShowLatest] = useState(false);
  const loadingOlder = useRef(false);
  const anchor = useRef<{ height: number; top: number } | null>(null);
  const seen = useRef(new Set<string>());

  useLayoutEffect(() => {
    const el = scroller.current;
    if (el === null) return;
    if (anchor.current !== null) {
      // Older messages were prepended: keep the view where it was.
      el.scrollTop = el.scrollHeight - anchor.current.height + anchor.current.top;
      anchor.current = null;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    const fresh: Element[] = [];
    let own = false;
    for (const node of el.querySelectorAll<HTMLElement>("[data-key]")) {
      const key = node.dataset.key ?? "";
      if (!seen.current.has(key)) {
        if (seen.current.size > 0) {
          fresh.push(node);
          own = node.classList.contains("own");
        }
        seen.current.add(key);
      }
    }
    if (fresh.length > 0 && fresh.length < 10) slideIn(fresh, own);
  }, [rows, pendingCount]);

  const onScroll = () => {
    const el = scroller.current;
    if (el === null) return;
    const bottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    atBottom.current = bottom;
    setShowLatest(!bottom);
    if (bottom) engine.markRead(id);
    if (el.scrollTop < 120 && hasMoreBefore && !loadingOlder.current) {
      loadingOlder.current = true;
      anchor.current = { height: el.scrollHeight, top: el.scrollTop };
      engine
        .loadOlder(id)
        .catch(() => {
          anchor.current = null;
        })
        .finally(() => {
          loadingOlder.current = false;
        });
    }
  };

  const toLatest = () => {
    const el = scroller.current;
    if (el === null) return;
    el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    setShowLatest(false);
    engine.markRead(id);
  };

  const loadOlder = () => {
    const el = scroller.current;
    if (el !== null) anchor.current = { height: el.scrollHeight, top: el.scrollTop };
    void engine.loadOlder(id);
  };

  return { scroller, showLatest, onScroll, toLatest, loadOlder };
}
