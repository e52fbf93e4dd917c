/** GSAP motion, off under `prefers-reduced-motion`. */
import { gsap } from "gsap";

export function reducedMotion(): boolean {
  return window.matchMedia("(prefers-reduced-motion: reduce)").matches;
}

export function slideIn(elements: Element[], fromRight: boolean): void {
  if (elements.length === 0 || reducedMotion()) return;
  gsap.from(elements, {
    x: fromRight ? 24 : -24,
    opacity: 0,
    duration: 0.25,
    ease: "power2.out",
    stagger: 0.03,
    clearProps: "transform,opacity",
  });
}

export function panelIn(element: Element | null): void {
  if (element === null || reducedMotion()) return;
  gsap.from(element, { opacity: 0, y: 8, duration: 0.2, ease: "power1.out", clearProps: "transform,opacity" });
}
