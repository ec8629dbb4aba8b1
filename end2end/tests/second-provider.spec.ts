// A practice whose first text provider is down: texts go out through the second, and a patient
// registers and signs in without noticing anything, and an admin sees each provider's health on
// the overview. axe runs on each page.
import { expect } from "@playwright/test";
import { secondProvider } from "../portal-env";
import {
  addStaff,
  codeFor,
  enrolStaff,
  expectAccessible,
  hydrated,
  logIn,
  logOut,
  registerAndVerify,
  screenshot,
  staffLogin,
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

test("the overview shows each provider's health and where texts go", async ({ page, request }) => {
  await registerAndVerify(page, request, { username: uniqueUsername("rangi"), mobile: uniqueMobile() });
  await logOut(page);
  const name = uniqueUsername("admin");
  const admin = await enrolStaff(page, name, addStaff(name, "admin", secondProvider.env));
  await staffLogin(page, admin);
  await page.getByRole("link", { name: "Overview", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Overview", exact: true })).toBeVisible();
  const providers = page.getByRole("table").filter({ has: page.getByRole("columnheader", { name: "Provider", exact: true }) });
  await expect(providers.getByRole("row")).toHaveCount(3);
  await expect(providers.getByRole("row").nth(1)).toContainText("webhook");
  await expect(providers.getByRole("row").nth(2)).toContainText("console");
  const countries = page.getByRole("table").filter({ has: page.getByRole("columnheader", { name: "Entered", exact: true }) });
  await expect(countries.getByRole("row").filter({ hasText: "NZ" })).toHaveCount(1);
  await hydrated(page);
  await expectAccessible(page);
  await page.getByRole("heading", { name: "Text providers" }).scrollIntoViewIfNeeded();
  await screenshot(page, "overview-providers-and-where-texts-go");
});
