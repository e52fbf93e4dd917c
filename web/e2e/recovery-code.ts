/** Shared e2e step: read the recovery code shown once and type back the group it asks for. */
import { expect, type Page } from "@playwright/test";

export async function confirmRecoveryCode(page: Page, continueLabel: RegExp | string): Promise<string> {
  const shown = page.getByTestId("recovery-code");
  await expect(shown).toBeVisible({ timeout: 30_000 });
  const groups = await shown.locator(".recovery-group").allTextContents();
  expect(groups).toHaveLength(7);
  const input = page.getByLabel(/To continue, type group \d of 7/);
  const group = Number(await input.getAttribute("data-group"));
  await input.fill(groups[group - 1] ?? "");
  await page.getByRole("button", { name: continueLabel }).click();
  return groups.join("-");
}
