// A practice whose first text provider is down: texts go out through the second, and a patient
// registers and signs in without noticing anything. axe runs on each page.
import { expect } from "@playwright/test";
import {
  codeFor,
  expectAccessible,
  logIn,
  logOut,
  registerAndVerify,
  screenshot,
  test,
  textCount,
  uniqueMobile,
  uniqueUsername,
} from "./support";

test("with the first provider down, a patient registers and signs in without noticing", async ({ page, request }) => {
  const mobile = uniqueMobile();
  const username = uniqueUsername("tama");
  await registerAndVerify(page, request, { username, mobile, givenName: "Tama" });
  await expect(page.getByRole("heading", { name: "Welcome, Tama" })).toBeVisible();
  await logOut(page);

  const seen = await textCount(request, mobile.e164);
  await logIn(page, username);
  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByRole("heading", { name: "Check your phone" })).toBeVisible();
  await expect(page.getByText("We sent a code to your mobile ending")).toBeVisible();
  const code = await codeFor(request, mobile.e164, seen);
  // Nothing said of the provider that failed.
  await expect(page.getByRole("alert").filter({ hasText: "couldn't send" })).toHaveCount(0);
  await expect(page.getByText("Text messages are delayed right now.")).toHaveCount(0);
  await expectAccessible(page);
  await screenshot(page, "code-through-the-second-provider");
  await page.getByLabel("Verification code").fill(code);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Tama" })).toBeVisible();
});
