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

/**
 * `rows` and `pendingKeys` (the pending bubbles' `data-key`s) change when rows are added: the
 * view is adjusted after each. Rows are told apart by key, not by walking the DOM: a history
 * page adds 50 rows to a list of hundreds.
 */
export function useMessageScroll(
  id: string,
  hasMoreBefore: boolean,
  rows: readonly Row[],
  pendingKeys: readonly string[],
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
    const prepended = anchor.current !== null;
    if (anchor.current !== null) {
      // Older messages were prepended: keep the view where it was.
      el.scrollTop = el.scrollHeight - anchor.current.height + anchor.current.top;
      anchor.current = null;
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    }
    // Bubbles that arrived since the last commit. Not those of the first render, nor older ones
    // (history pages, above the first bubble shown before): only new rows slide in.
    const fresh = new Set<string>();
    let older = true;
    const note = (key: string) => {
      if (seen.current.has(key)) {
        older = false;
      } else {
        if (!older) fresh.add(key);
        seen.current.add(key);
      }
    };
    for (const row of rows) if (row.kind === "message") note(row.key);
    for (const key of pendingKeys) note(key);
    if (prepended || fresh.size === 0 || fresh.size >= 10) return;
    const nodes: HTMLElement[] = [];
    for (const node of el.querySelectorAll<HTMLElement>("[data-key]")) {
      if (fresh.has(node.dataset.key ?? "")) nodes.push(node);
    }
    const last = nodes.at(-1);
    if (last !== undefined) slideIn(nodes, last.classList.contains("own"));
  }, [rows, pendingKeys]);

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
