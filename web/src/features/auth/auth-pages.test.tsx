// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

import { LoginPage, RegisterPage } from "@/features/auth/auth-pages";
import { fakeApi, renderWithProviders } from "@/test/render";

afterEach(cleanup);

const anonymous = (url: string) =>
  url.endsWith("/auth/refresh") ? { status: 401, body: { code: "unauthenticated" } } : null;

describe("RegisterPage", () => {
  it("shows a live strength meter and refuses a weak password with a reason", async () => {
    const { api, calls } = fakeApi((url) => anonymous(url) ?? { status: 500 });
    renderWithProviders(<RegisterPage />, api, "/register");
    fireEvent.change(screen.getByLabelText("Display name"), { target: { value: "Ana" } });
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "ana@example.com" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "password123" } });
    fireEvent.change(screen.getByLabelText("Confirm password"), { target: { value: "password123" } });
    // The zxcvbn dictionaries load on first use; the meter then names the reason.
    expect(await screen.findByText(/commonly used password/, {}, { timeout: 10_000 })).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));
    const popup = await screen.findByRole("alertdialog");
    expect(popup.textContent).toContain("Choose a stronger password");
    expect(calls.filter((c) => c.includes("/register"))).toEqual([]);
  });

  it("refuses mismatched passwords", () => {
    const { api } = fakeApi((url) => anonymous(url) ?? { status: 500 });
    renderWithProviders(<RegisterPage />, api, "/register");
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "mauve lantern 73 orbit" } });
    fireEvent.change(screen.getByLabelText("Confirm password"), { target: { value: "mauve lantern 73 orbi" } });
    expect(screen.getByText("The passwords don't match.")).toBeTruthy();
  });
});

describe("LoginPage", () => {
  it("refuses weak KDF parameters from a malicious server, before sending anything", async () => {
    const { api, calls } = fakeApi(
      (url) =>
        anonymous(url) ??
        (url.endsWith("/prelogin")
          ? {
              status: 200,
              body: {
                kdf: { v: 1, alg: "argon2id", m: 8, t: 1, p: 1, salt: "AAAAAAAAAAAAAAAAAAAAAA" },
              },
            }
          : { status: 500 }),
    );
    renderWithProviders(<LoginPage />, api, "/login");
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "ana@example.com" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "whatever it is" } });
    fireEvent.submit(screen.getByRole("button", { name: "Sign in" }).closest("form")!);
    const popup = await screen.findByRole("alertdialog");
    expect(popup.textContent).toContain("unsafe settings");
    expect(calls.some((c) => c.includes("/auth/login"))).toBe(false);
  });

  it("says when the server can't be reached", async () => {
    const { api } = fakeApi((url) => anonymous(url) ?? { status: 503, body: { code: "service_unavailable" } });
    renderWithProviders(<LoginPage />, api, "/login");
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "ana@example.com" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "whatever it is" } });
    fireEvent.submit(screen.getByRole("button", { name: "Sign in" }).closest("form")!);
    await waitFor(() => {
      expect(screen.getByRole("alertdialog").textContent).toContain("The server is busy");
    });
  });
});
