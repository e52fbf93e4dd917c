// @vitest-environment happy-dom
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { useState } from "react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { Popup, type PopupContent } from "@/components/popup";

afterEach(() => {
  cleanup();
  vi.restoreAllMocks();
});

const CONTENT: PopupContent = { title: "Wrong email or password", detail: "Check both and try again." };

/** A page with a button that opens the popup, as the auth pages use it. */
function Page({ onClose }: { onClose?: () => void }) {
  const [content, setContent] = useState<PopupContent | null>(null);
  return (
    <>
      <button
        type="button"
        onClick={() => {
          setContent(CONTENT);
        }}
      >
        Sign in
      </button>
      <Popup
        content={content}
        onClose={() => {
          onClose?.();
          setContent(null);
        }}
      />
    </>
  );
}

function dialog(): HTMLDialogElement {
  const element = document.querySelector("dialog");
  if (element === null) throw new Error("no <dialog>");
  return element;
}

describe("Popup", () => {
  it("is a closed native <dialog> with nothing in it while there is no content", () => {
    render(<Page />);
    expect(dialog().open).toBe(false);
    expect(screen.queryByRole("button", { name: "OK" })).toBeNull();
  });

  it("opens modally (showModal, so focus is trapped) with its title, detail and focus on OK", () => {
    const showModal = vi.spyOn(HTMLDialogElement.prototype, "showModal");
    const show = vi.spyOn(HTMLDialogElement.prototype, "show");
    render(<Page />);
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));

    expect(showModal).toHaveBeenCalledTimes(1);
    expect(show).not.toHaveBeenCalled();
    const element = dialog();
    expect(element.open).toBe(true);
    expect(element.getAttribute("role")).toBe("alertdialog");
    const title = document.getElementById(element.getAttribute("aria-labelledby") ?? "");
    const detail = document.getElementById(element.getAttribute("aria-describedby") ?? "");
    expect(title?.textContent).toBe(CONTENT.title);
    expect(detail?.textContent).toBe(CONTENT.detail);
    expect(document.activeElement).toBe(screen.getByRole("button", { name: "OK" }));
  });

  it("OK closes it and gives focus back to what had it", () => {
    const onClose = vi.fn();
    render(<Page onClose={onClose} />);
    const opener = screen.getByRole("button", { name: "Sign in" });
    opener.focus();
    fireEvent.click(opener);
    fireEvent.click(screen.getByRole("button", { name: "OK" }));

    expect(onClose).toHaveBeenCalledTimes(1);
    expect(dialog().open).toBe(false);
    expect(document.activeElement).toBe(opener);
  });

  it("Escape (the dialog's cancel event) calls onClose and closes it", () => {
    const onClose = vi.fn();
    render(<Page onClose={onClose} />);
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));

    const cancel = new Event("cancel", { cancelable: true });
    fireEvent(dialog(), cancel);

    expect(cancel.defaultPrevented).toBe(true);
    expect(onClose).toHaveBeenCalledTimes(1);
    expect(dialog().open).toBe(false);
  });

  it("two popups on one page do not share ids", () => {
    render(
      <>
        <Popup content={CONTENT} onClose={() => undefined} />
        <Popup content={CONTENT} onClose={() => undefined} />
      </>,
    );
    const [a, b] = [...document.querySelectorAll("dialog")];
    expect(a?.getAttribute("aria-labelledby")).not.toBe(b?.getAttribute("aria-labelledby"));
  });
});
