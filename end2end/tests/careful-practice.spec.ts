// A careful practice's portal, where things go wrong on purpose: its SMS gateway has nothing
// behind it, and it sends patients without a verified number to support rather than letting a
// password alone choose their second factor (PORTAL_FIRST_NUMBER_AT_LOGIN=support).
import { expect } from "@playwright/test";
import { carefulPractice } from "../portal-env";
import {
  PASSWORD,
  expectAccessible,
  hydrated,
  importPatients,
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

  await page.getByRole("button", { name: "Send Code" }).click();
  const alert = page.getByRole("alert").filter({ hasText: "couldn't send" });
  await expect(alert.locator("p").first()).toHaveText(
    "We couldn't send the text right now — try again in a moment, or contact support",
  );
  // A fault of the portal's side: the patient is given its reference to quote.
  await expect(alert.locator(".reference")).toHaveText(
    /^If you call the practice about this, give them this reference: [0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/,
  );
  await expect(page.locator(".support-line")).toContainText("0800 427 287");
  await expect(page.locator(".support-line")).toContainText("help@harbourhealth.example");
  await expectAccessible(page);
  await screenshot(page, "send-failed");
});

test("a patient without a verified number is sent to the practice, not asked for one", async ({ page }) => {
  const username = uniqueUsername("ada");
  const oneTimePassword = "practice gave me this";
  importPatients([`${username},Ada,King,1950-12-10,04 471 1234,,${oneTimePassword}`], carefulPractice.env);

  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(oneTimePassword);
  await page.getByRole("button", { name: "Log in" }).click();

  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByRole("heading", { name: "Contact the practice" })).toBeVisible();
  await expect(page.getByLabel("Mobile number")).toHaveCount(0);
  await expect(page.getByRole("button", { name: "Get Code" })).toHaveCount(0);
  await expect(page.locator(".support-line")).toContainText("0800 427 287");
  await hydrated(page);
  await expectAccessible(page);
  await screenshot(page, "support-needed");
});
