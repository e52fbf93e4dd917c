// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import { LoginPage, RegisterPage } from "@/features/auth/auth-pages";
import { navigateAway } from "@/lib/navigate-away";
import { fakeApi, renderWithProviders, type Route } from "@/test/render";

vi.mock("@/lib/navigate-away", () => ({ navigateAway: vi.fn() }));

afterEach(() => {
  cleanup();
  vi.mocked(navigateAway).mockClear();
});

const TWO = {
  providers: [
    { id: "google", name: "Google", kind: "oidc" },
    { id: "facebook", name: "Facebook", kind: "facebook" },
  ],
};

function server(route: Route = () => ({ status: 404, body: { code: "not_found" } }), providers: unknown = TWO) {
  return fakeApi((url, init) => {
    if (url.endsWith("/auth/refresh")) return { status: 401, body: { code: "unauthenticated" } };
    if (url.endsWith("/auth/providers")) return { status: 200, body: providers };
    return route(url, init);
  });
}

describe("ProviderButtons", () => {
  it("offers every configured provider below the sign-in form", async () => {
    const { api } = server();
    renderWithProviders(<LoginPage />, api, "/login");
    const google = await screen.findByRole("button", { name: "Continue with Google" });
    expect(screen.getByRole("button", { name: "Continue with Facebook" })).toBeTruthy();
    expect(screen.getByText("or")).toBeTruthy();
    const form = screen.getByRole("button", { name: "Sign in" }).closest("form")!;
    expect(form.compareDocumentPosition(google) & Node.DOCUMENT_POSITION_FOLLOWING).toBeTruthy();
  });

  it("offers them on the registration page too", async () => {
    const { api } = server();
    renderWithProviders(<RegisterPage />, api, "/register");
    expect(await screen.findByRole("button", { name: "Continue with Google" })).toBeTruthy();
  });

  it("shows no buttons and no separator when the server offers no provider", async () => {
    const { api, calls } = server(undefined, { providers: [] });
    renderWithProviders(<LoginPage />, api, "/login");
    await waitFor(() => {
      expect(calls).toContain("GET /api/v1/auth/providers");
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.queryByRole("button", { name: /Continue with/ })).toBeNull();
    expect(screen.queryByText("or")).toBeNull();
  });

  it("shows no buttons when the list can't be loaded", async () => {
    const { api, calls } = fakeApi((url) =>
      url.endsWith("/auth/refresh")
        ? { status: 401, body: { code: "unauthenticated" } }
        : { status: 503, body: { code: "service_unavailable" } },
    );
    renderWithProviders(<LoginPage />, api, "/login");
    await waitFor(() => {
      expect(calls).toContain("GET /api/v1/auth/providers");
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.queryByRole("button", { name: /Continue with/ })).toBeNull();
  });

  it("starts a sign-in with this browser's name, then goes to the provider's page", async () => {
    let sent: unknown = null;
    let auth: string | null = "unset";
    const { api } = server((url, init) => {
      if (url.endsWith("/auth/providers/google/start")) {
        sent = JSON.parse(init?.body as string);
        auth = new Headers(init?.headers).get("Authorization");
        return { status: 200, body: { authorization_url: "https://accounts.example/auth?state=s", expires_in: 600 } };
      }
      return { status: 404, body: { code: "not_found" } };
    });
    renderWithProviders(<LoginPage />, api, "/login");
    fireEvent.click(await screen.findByRole("button", { name: "Continue with Google" }));
    await waitFor(() => {
      expect(navigateAway).toHaveBeenCalledWith("https://accounts.example/auth?state=s");
    });
    expect(sent).toMatchObject({ intent: "sign_in", device_name: expect.any(String) });
    expect(sent).not.toHaveProperty("auth_secret");
    expect(auth).toBeNull();
    // Busy until the page is gone: no second start.
    expect(screen.getByRole("button", { name: "Continue with Facebook" })).toHaveProperty("disabled", true);
    expect(screen.getByText(/Opening Google/)).toBeTruthy();
  });

  it("says when the provider can't be reached, and lets the person try again", async () => {
    const { api } = server(() => ({ status: 502, body: { code: "provider_unreachable" } }));
    renderWithProviders(<LoginPage />, api, "/login");
    fireEvent.click(await screen.findByRole("button", { name: "Continue with Google" }));
    const popup = await screen.findByRole("alertdialog");
    expect(popup.textContent).toContain("Can't reach Google");
    expect(navigateAway).not.toHaveBeenCalled();
    expect(screen.getByRole("button", { name: "Continue with Google" })).toHaveProperty("disabled", false);
  });

  it("says when starts are rate limited", async () => {
    const { api } = server(() => ({ status: 429, body: { code: "rate_limited" } }));
    renderWithProviders(<LoginPage />, api, "/login");
    fireEvent.click(await screen.findByRole("button", { name: "Continue with Facebook" }));
    expect((await screen.findByRole("alertdialog")).textContent).toContain("Too many attempts");
  });
});

describe("LoginPage with providers", () => {
  it("hints at the provider buttons when a sign-in is refused", async () => {
    const { api } = server(() => ({ status: 401, body: { code: "invalid_credentials" } }), {
      providers: [{ id: "google", name: "Google", kind: "oidc" }],
    });
    renderWithProviders(<LoginPage />, api, "/login");
    await screen.findByRole("button", { name: "Continue with Google" });
    // The refusal comes from prelogin here: no Argon2id is needed to show the words.
    fireEvent.change(screen.getByLabelText("Email"), { target: { value: "ana@example.com" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "whatever it is" } });
    fireEvent.submit(screen.getByRole("button", { name: "Sign in" }).closest("form")!);
    const popup = await screen.findByRole("alertdialog");
    expect(popup.textContent).toContain("Wrong email or password");
    expect(popup.textContent).toContain("If you signed up with Google, use “Continue with Google” below.");
  });
});
