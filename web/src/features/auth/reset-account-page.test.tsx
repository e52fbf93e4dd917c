// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { ResetAccountPage } from "@/features/auth/reset-account-page";
import { fakeApi, renderWithProviders, type Route } from "@/test/render";

afterEach(cleanup);

const STRONG = "copper meadow 48 violin";

const anonymous = (url: string) =>
  url.endsWith("/auth/refresh") ? { status: 401, body: { code: "unauthenticated" } } : null;

function renderPage(route: Route = () => ({ status: 500 })) {
  const { api, calls } = fakeApi((url, init) => anonymous(url) ?? route(url, init));
  renderWithProviders(<ResetAccountPage />, api, "/reset-account");
  return { calls: () => calls.filter((c) => c.includes("/reset-account")) };
}

function fill() {
  fireEvent.change(screen.getByLabelText("Email"), { target: { value: "ana@example.com" } });
  fireEvent.change(screen.getByLabelText("Reset code"), { target: { value: "  Zq3x-Y_8kLmN0pQrStUvWx12 " } });
  fireEvent.change(screen.getByLabelText("New password"), { target: { value: STRONG } });
  fireEvent.change(screen.getByLabelText("Confirm new password"), { target: { value: STRONG } });
}

function submit() {
  fireEvent.submit(screen.getByRole("button", { name: "Reset account" }).closest("form")!);
}

describe("ResetAccountPage", () => {
  it("says what a reset costs before anything happens", () => {
    const { calls } = renderPage();
    const warning = screen.getByTestId("reset-warning");
    expect(warning.textContent).toMatch(/Ask the server's operator for a reset code/);
    expect(warning.textContent).toMatch(/new identity/);
    expect(warning.textContent).toMatch(/old private messages can no longer be read by anyone/);
    expect(warning.textContent).toMatch(/contacts will see that your keys changed/);
    // The warning comes before the form.
    const form = screen.getByRole("button", { name: "Reset account" }).closest("form")!;
    expect(warning.compareDocumentPosition(form) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
    const box = screen.getByRole("checkbox", { name: "I understand my old private history will be gone" });
    expect((box as HTMLInputElement).checked).toBe(false);
    expect(calls()).toEqual([]);
  });

  it("refuses to submit until the checkbox is ticked", async () => {
    const { calls } = renderPage((url) =>
      url.endsWith("/reset-account/start")
        ? { status: 401, body: { code: "invalid_credentials", title: "invalid credentials" } }
        : { status: 500 },
    );
    fill();
    submit();
    expect(await screen.findByText(/Tick the box to confirm/)).toBeTruthy();
    const box = screen.getByRole("checkbox", { name: "I understand my old private history will be gone" });
    expect(box.getAttribute("aria-invalid")).toBe("true");
    // Give a refused submit every chance to send something anyway.
    await new Promise((r) => setTimeout(r, 50));
    expect(calls()).toEqual([]);

    fireEvent.click(box);
    expect(screen.queryByText(/Tick the box to confirm/)).toBeNull();
    submit();
    // Ticked: the code goes to the server first (before any Argon2id), without stray spaces.
    const popup = await screen.findByRole("alertdialog", {}, { timeout: 15_000 });
    expect(popup.textContent).toContain("Wrong email or reset code");
    expect(calls()).toEqual(["POST /api/v1/auth/reset-account/start"]);
  });

  it("sends the reset code as typed, trimmed of spaces", async () => {
    let sent: unknown = null;
    renderPage((url, init) => {
      if (url.endsWith("/reset-account/start")) {
        sent = JSON.parse(init?.body as string);
        return { status: 401, body: { code: "invalid_credentials" } };
      }
      return { status: 500 };
    });
    fill();
    fireEvent.click(screen.getByRole("checkbox"));
    submit();
    await waitFor(
      () => {
        expect(sent).toEqual({ email: "ana@example.com", reset_code: "Zq3x-Y_8kLmN0pQrStUvWx12" });
      },
      { timeout: 15_000 },
    );
  });
});
