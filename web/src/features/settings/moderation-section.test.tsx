// @vitest-environment happy-dom
import { cleanup, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";

import type { AuditEntry } from "@/api/types";
import { ModerationSection } from "@/features/settings/moderation-section";
import { fakeApi, renderWithProviders } from "@/test/render";

afterEach(cleanup);

const ADMIN = "aaaaaaaa-1111-4111-8111-111111111111";
const EVE = "eeeeeeee-2222-4222-8222-222222222222";

describe("ModerationSection", () => {
  it("disables a found account after asking, and lists the audit log", async () => {
    let entries: AuditEntry[] = [
      {
        id: 1,
        actor_user_id: ADMIN,
        action: "room.delete",
        target_kind: "room",
        target_id: "0b5f6a1e-3d4c-4e8a-9a51-6f2f5b8d2c11",
        detail: { name: "Spam club", member_count: 3, last_seq: 9 },
        created_at: 0,
      },
    ];
    const { api, calls } = fakeApi((url, init) => {
      if (url.endsWith("/auth/refresh")) return { status: 401, body: { code: "unauthenticated" } };
      if (url.includes("/admin/audit-log")) return { status: 200, body: { entries } };
      if (url.includes("/api/v1/users?")) {
        return { status: 200, body: [{ user_id: EVE, display_name: "Eve", keys_version: 1 }] };
      }
      if (url.endsWith(`/admin/users/${EVE}/disable`) && init?.method === "POST") {
        const disabled: AuditEntry = {
          id: 2,
          actor_user_id: ADMIN,
          action: "account.disable",
          target_kind: "user",
          target_id: EVE,
          detail: { sessions_revoked: 1 },
          created_at: 1,
        };
        entries = [disabled, ...entries];
        return { status: 204 };
      }
      return { status: 404, body: { code: "not_found" } };
    });
    window.confirm = vi.fn<(message?: string) => boolean>().mockReturnValue(true);
    renderWithProviders(<ModerationSection />, api);

    expect(await screen.findByText(/deleted a room “Spam club”/)).toBeTruthy();
    fireEvent.change(screen.getByRole("searchbox"), { target: { value: "eve" } });
    fireEvent.click(await screen.findByRole("button", { name: "Disable Eve" }));
    expect(await screen.findByRole("status")).toHaveProperty(
      "textContent",
      "Eve is disabled and signed out everywhere.",
    );
    expect(calls).toContain(`POST /api/v1/admin/users/${EVE}/disable`);
    await waitFor(() => {
      expect(screen.getByText(/disabled an account/)).toBeTruthy();
    });
  });
});
