// When the SMS provider is down, "Send Code" still answers within seconds and the patient is told
// what happened and how to reach the practice. This portal's gateway address has nothing behind it.
import { expect } from "@playwright/test";
import {
  PASSWORD,
  expectAccessible,
  hydrated,
  screenshot,
  test,
  uniqueMobile,
  uniqueUsername,
} from "./support";

test("a text that can't be sent is explained, with the practice's contact", async ({ page }) => {
  await page.goto("/register");
  await hydrated(page);
  await page.getByLabel("Given name").fill("Grace");
  await page.getByLabel("Family name").fill("Hopper");
  await page.getByLabel("Date of birth").fill("1946-12-09");
  await page.getByLabel("Mobile number").fill(uniqueMobile().typed);
  await page.getByLabel("Username").fill(uniqueUsername("grace"));
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm password").fill(PASSWORD);
  await page.getByRole("button", { name: "Register" }).click();
  await expect(page).toHaveURL(/\/verify$/);
  await hydrated(page);

  const codeField = page.getByLabel("Verification code");
  await expect(codeField).toHaveAttribute("autocomplete", "one-time-code");
  await expect(codeField).toHaveAttribute("inputmode", "numeric");

  const started = Date.now();
  await page.getByRole("button", { name: "Send Code" }).click();
  const alert = page.getByRole("alert").filter({ hasText: "couldn't send" });
  await expect(alert).toHaveText(
    "We couldn't send the text right now — try again in a moment, or contact support",
  );
  expect(Date.now() - started).toBeLessThan(10_000);
  await expect(page.locator(".support-line")).toContainText("0800 427 287");
  await expect(page.locator(".support-line")).toContainText("help@harbourhealth.example");
  await expectAccessible(page);
  await screenshot(page, "send-failed");
});
