// The practice's side: a staff member enrols from the printed link (the journey computes the
// authenticator codes itself), support unlocks a locked-out patient, and support resets the
// number of a patient who lost their phone. axe runs on every staff page.
import { expect } from "@playwright/test";
import {
  PASSWORD,
  act,
  addStaff,
  codeFor,
  enrolStaff,
  expectAccessible,
  hydrated,
  logIn,
  openPatient,
  registerAndVerify,
  screenshot,
  staffLogin,
  supportMember,
  test,
  textCount,
  uniqueMobile,
  uniqueUsername,
} from "./support";

test("a staff member enrols from the printed link and signs in with an authenticator code", async ({ page }) => {
  const name = uniqueUsername("kim");
  const link = addStaff(name, "admin");
  expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/staff\/enrol\?token=/);

  await page.goto(link);
  await hydrated(page);
  await expect(page.getByRole("img", { name: "QR code for your authenticator app" })).toBeVisible();
  await expect(page.locator("code.secret")).toHaveText(/^[A-Z2-7]{4}( [A-Z2-7]{1,4})+$/);
  await expectAccessible(page);
  await screenshot(page, "1-enrol");

  const staff = await enrolStaff(page, name, link);
  expect(staff.recoveryCodes).toHaveLength(10);
  await expectAccessible(page);
  await screenshot(page, "2-recovery-codes");

  await page.goto("/staff/login");
  await hydrated(page);
  await expectAccessible(page);
  await screenshot(page, "3-staff-login");
  await staffLogin(page, staff);
  await expect(page.getByRole("heading", { name: "Search patients" })).toBeVisible();
  // An admin sees the practice's pages too; each one passes axe.
  for (const [link, heading] of [
    ["Practice settings", "Practice settings"],
    ["Audit log", "Audit log"],
    ["Staff", "Staff"],
  ]) {
    await page.getByRole("link", { name: link, exact: true }).click();
    await expect(page.getByRole("heading", { name: heading, exact: true })).toBeVisible();
    await hydrated(page);
    await expectAccessible(page);
    await screenshot(page, `4-${heading.toLowerCase().replace(/ /g, "-")}`);
  }
  await expect(page.locator("table.team")).toContainText(name);
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/staff\/login$/);
});

test("a patient locks themselves out; support finds and unlocks them, and they sign in", async ({ page, request, browser }) => {
  const mobile = uniqueMobile();
  const username = uniqueUsername("lock");
  await registerAndVerify(page, request, { username, mobile });
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);
  for (let i = 0; i < 6; i++) {
    await page.getByLabel("Username").fill(username);
    await page.getByLabel("Password").fill("not my password at all");
    // One attempt at a time: each answered before the next is typed.
    const answered = page.waitForResponse((r) => r.url().endsWith("/api/login") && r.request().method() === "POST");
    await page.getByRole("button", { name: "Log in" }).click();
    await answered;
    await expect(page.getByRole("alert")).not.toHaveText("");
  }
  await expect(page.getByRole("alert")).toContainText("Too many failed attempts");

  const beforeUnlock = await textCount(request, mobile.e164);
  const staffContext = await browser.newContext();
  const staffPage = await staffContext.newPage();
  await supportMember(staffPage);
  await openPatient(staffPage, username);
  await expect(staffPage.locator(".sign-in-state")).toContainText("Login delay running until");
  await expectAccessible(staffPage);
  await screenshot(staffPage, "1-patient-locked");
  await act(staffPage, "Unlock", "Patient rang; identity checked with date of birth");
  await expect(staffPage.getByRole("status").first()).toContainText("The login delays are cleared.");
  await expect(staffPage.locator(".sign-in-state")).toContainText("No login delay");
  await expect(staffPage.locator("table.audit")).toContainText("patient_unlocked");
  await screenshot(staffPage, "2-unlocked");
  // On a phone the record fits the screen: its tables scroll inside their frames, the page
  // itself never sideways.
  await staffPage.setViewportSize({ width: 360, height: 740 });
  expect(await staffPage.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  const table = staffPage.locator("table.audit");
  expect(await table.evaluate((t) => t.scrollWidth <= t.clientWidth)).toBe(true);
  await expectAccessible(staffPage);
  await screenshot(staffPage, "3-record-on-a-phone");
  await staffContext.close();

  // The patient was told by text.
  const seen = await textCount(request, mobile.e164);
  expect(seen).toBe(beforeUnlock + 1);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/verify$/);
  const code = await codeFor(request, mobile.e164, seen);
  await hydrated(page);
  await page.getByLabel("Verification code").fill(code);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("button", { name: "Log out" })).toBeVisible();
});

test("a patient lost their phone; support resets the number and the patient verifies a new one", async ({ page, request, browser }) => {
  const oldMobile = uniqueMobile();
  const newMobile = uniqueMobile();
  const username = uniqueUsername("lost");
  await registerAndVerify(page, request, { username, mobile: oldMobile, givenName: "Lucy" });
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);

  const staffContext = await browser.newContext();
  const staffPage = await staffContext.newPage();
  await supportMember(staffPage);
  await openPatient(staffPage, username);
  await act(staffPage, "Reset mobile number", "Lost phone");
  await expect(staffPage.getByRole("status").first()).toContainText("The mobile number is reset");
  // Read out on a call back to a number on the practice's records.
  const given = (await staffPage.locator(".one-time-password code").textContent())!.trim();
  await screenshot(staffPage, "1-number-reset");
  await staffContext.close();

  // The old password alone no longer gets anywhere.
  await hydrated(page);
  await logIn(page, username, PASSWORD);
  await expect(page.getByRole("alert")).toContainText("don't match");
  await logIn(page, username, given);
  await expect(page.getByRole("heading", { name: "Choose your password" })).toBeVisible();
  await hydrated(page);
  await expectAccessible(page);
  await screenshot(page, "2-choose-a-password-first");
  await page.getByLabel("One-time password from the practice").fill(given);
  await page.getByLabel("Password", { exact: true }).fill("lucys own long phrase");
  await page.getByLabel("Confirm password").fill("lucys own long phrase");
  await page.getByRole("button", { name: "Save password" }).click();
  await expect(page.getByRole("heading", { name: "Verify your mobile number" })).toBeVisible();
  await hydrated(page);
  await expectAccessible(page);
  await screenshot(page, "3-asked-for-a-number");
  await page.getByLabel("Mobile number").fill(newMobile.typed);
  await page.getByRole("button", { name: "Get Code" }).click();
  const code = await codeFor(request, newMobile.e164);
  await page.getByLabel("Verification code").fill(code);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Lucy" })).toBeVisible();
  const mobileRow = page.locator(".mobile-status");
  await expect(mobileRow).toContainText(newMobile.typed);
  await expect(mobileRow).toContainText("Verified");
  await screenshot(page, "4-new-number-verified");
});

test("an admin sees the last 30 days at a glance: charts drawn on the server, with their numbers", async ({ page, request }) => {
  // Something to count today: a patient who registered and signed in with a code.
  await registerAndVerify(page, request, { username: uniqueUsername("overview"), mobile: uniqueMobile() });
  await page.getByRole("button", { name: "Log out" }).click();
  await supportMember(page, "admin");
  await page.getByRole("link", { name: "Overview", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Overview", exact: true })).toBeVisible();
  // Four charts, each an image with a summary, and the same numbers in a table.
  const charts = page.getByRole("img");
  await expect(charts).toHaveCount(4);
  await expect(charts.first()).toHaveAccessibleName(/Patients' sign-ins per day.*text message code/i);
  await expect(page.getByRole("table", { name: /Patients' sign-ins per day, by what proved them, by day/ })).toHaveCount(1);
  await expect(page.locator("svg rect").first()).toBeVisible();
  await expect(page.getByText("Codes sent that were verified")).toBeVisible();
  await hydrated(page);
  await expectAccessible(page);
  await screenshot(page, "1-overview");
  // On a phone the charts shrink to the screen; the page never scrolls sideways.
  await page.setViewportSize({ width: 360, height: 740 });
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(360);
  await expectAccessible(page);
  await screenshot(page, "2-overview-on-a-phone");
  // Alerts by email: the address waits for its link, and a link that isn't this admin's is refused.
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.getByLabel("Email for alerts").fill("ada@harbour.example");
  await page.getByRole("button", { name: "Save email for alerts" }).click();
  await expect(page.getByText("Waiting for you to confirm ada@harbour.example")).toBeVisible();
  await page.goto("/staff/overview?confirm_alerts=not-a-link-we-sent");
  await hydrated(page);
  await page.getByRole("button", { name: "Confirm", exact: true }).click();
  await expect(page.getByRole("alert").filter({ hasText: "This link has expired or was already used" })).toBeVisible();
  await expect(page.getByLabel("Email for alerts")).toHaveValue("ada@harbour.example");
  await expectAccessible(page);
  await page.getByRole("heading", { name: "Alerts by email" }).scrollIntoViewIfNeeded();
  await screenshot(page, "3-alerts-by-email");
});
