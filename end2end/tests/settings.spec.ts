// An admin turns two-factor authentication off in the practice settings, a patient signs in with
// the password alone, and the admin turns it back on. This runs on a portal of its own, so the
// switch never touches another journey.
import { expect } from "@playwright/test";
import { practiceSettings } from "../portal-env";
import {
  PASSWORD,
  addStaff,
  enrolStaff,
  expectAccessible,
  hydrated,
  screenshot,
  slowPhone,
  staffLogin,
  test,
  uniqueMobile,
  uniqueUsername,
} from "./support";

// Both journeys save the one row of settings: one after the other, so neither's form goes stale.
test.describe.configure({ mode: "serial" });

test("an admin switches two-factor authentication off and on again", async ({ page, browser }) => {
  const name = uniqueUsername("admin");
  const admin = await enrolStaff(page, name, addStaff(name, "admin", practiceSettings.env));
  await staffLogin(page, admin);
  await page.getByRole("link", { name: "Practice settings" }).click();
  await hydrated(page);
  const twoFactor = page.getByLabel("Two-factor authentication");
  await expect(twoFactor).toBeChecked();
  await twoFactor.uncheck();
  await page.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByRole("status")).toContainText("two-factor authentication: on → off");
  await expectAccessible(page);
  await screenshot(page, "1-two-factor-off");

  // A new patient registers and is signed in at once; logged out, the password alone signs in.
  const patient = await browser.newPage();
  const username = uniqueUsername("pat");
  await patient.goto("/register");
  await hydrated(patient);
  await patient.getByLabel("Given name").fill("Pat");
  await patient.getByLabel("Family name").fill("Brown");
  await patient.getByLabel("Date of birth").fill("1955-05-05");
  await patient.getByLabel("Mobile number").fill(uniqueMobile().typed);
  await patient.getByLabel("Username").fill(username);
  await patient.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await patient.getByLabel("Confirm password").fill(PASSWORD);
  await patient.getByRole("button", { name: "Register" }).click();
  await expect(patient.getByRole("heading", { name: "Welcome, Pat" })).toBeVisible();
  await patient.getByRole("button", { name: "Log out" }).click();
  await expect(patient).toHaveURL(/\/login$/);
  await hydrated(patient);
  await patient.getByLabel("Username").fill(username);
  await patient.getByLabel("Password").fill(PASSWORD);
  await patient.getByRole("button", { name: "Log in" }).click();
  await expect(patient.getByRole("heading", { name: "Welcome, Pat" })).toBeVisible();
  await screenshot(patient, "2-password-alone");
  await patient.getByRole("button", { name: "Log out" }).click();

  await twoFactor.check();
  await page.getByRole("button", { name: "Save settings" }).click();
  await expect(page.getByRole("status")).toContainText("two-factor authentication: off → on");

  await expect(patient).toHaveURL(/\/login$/);
  await hydrated(patient);
  await patient.getByLabel("Username").fill(username);
  await patient.getByLabel("Password").fill(PASSWORD);
  await patient.getByRole("button", { name: "Log in" }).click();
  await expect(patient).toHaveURL(/\/verify$/);

  // Both changes are in the audit log, with who made them.
  await page.getByRole("link", { name: "Audit log" }).click();
  await hydrated(page);
  await page.getByLabel("Event", { exact: true }).selectOption("setting_changed");
  await page.getByRole("button", { name: "Show" }).click();
  const table = page.locator("table.audit");
  await expect(table).toContainText("two-factor authentication: off → on");
  await expect(table).toContainText("two-factor authentication: on → off");
  await expect(table).toContainText(name);
  await expect(page.getByRole("link", { name: "Export CSV" })).toHaveAttribute("href", /event=setting_changed/);
  await expectAccessible(page);
  await screenshot(page, "3-audit-log");

  // The address names the filters (and a page's key), so a page of lines can be kept or shared.
  await page.goto("/staff/audit?event=setting_changed");
  await expect(page.getByLabel("Event", { exact: true })).toHaveValue("setting_changed");
  await expect(table).toContainText("two-factor authentication: on → off");
});

// On a slow machine (the CPU throttled six times), a change saved with Enter before the page's
// scripts have woken is saved all the same, and the page says so.
test("an admin who saves the settings at once, on a slow machine, is told they are saved", async ({ page }) => {
  const name = uniqueUsername("hurriedadmin");
  test.setTimeout(120_000);
  const admin = await enrolStaff(page, name, addStaff(name, "admin", practiceSettings.env));
  await staffLogin(page, admin);
  // The form's island stays asleep until the save is answered.
  const wake = await slowPhone(page);
  await page.goto("/staff/settings");
  const renamed = `Harbourside ${name.slice(-4)}`;
  await page.getByLabel("Practice name").fill(renamed);
  await page.getByLabel("Practice name").press("Enter");
  await expect(page.getByRole("status").filter({ hasText: "aved" })).toBeVisible();
  await expect(page.getByLabel("Practice name")).toHaveValue(renamed);
  wake();
  // Every page from now on carries the new name.
  await page.goto("/staff/settings");
  await expect(page.locator(".practice-name")).toHaveText(renamed);
  await screenshot(page, "hurried-settings");
});
