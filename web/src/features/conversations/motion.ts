/** GSAP motion of the conversation dialogs and the group panel, off under `prefers-reduced-motion`. */
import { gsap } from "gsap";

import { reducedMotion } from "@/components/motion";

/** A dialog rising into place as it opens. */
export function dialogIn(element: Element | null): void {
  if (element === null || reducedMotion()) return;
  gsap.from(element, { opacity: 0, y: 12, scale: 0.98, duration: 0.2, ease: "power2.out", clearProps: "transform,opacity" });
}

/** A side panel sliding in from the right. */
export function sidePanelIn(element: Element | null): void {
  if (element === null || reducedMotion()) return;
  gsap.from(element, { opacity: 0, x: 24, duration: 0.22, ease: "power2.out", clearProps: "transform,opacity" });
}
