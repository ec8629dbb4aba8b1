// "Sign-in and security": a remembered device skips the code until the password changes, and a
// patient sees where they are signed in and signs the other browsers out. axe runs on each page.
import { expect, type Page } from "@playwright/test";
import {
  PASSWORD,
  act,
  codeFor,
  expectAccessible,
  hydrated,
  logIn,
  logOut,
  openPatient,
  registerAndVerify,
  screenshot,
  supportMember,
  test,
  textCount,
  uniqueMobile,
  uniqueUsername,
} from "./support";

test("a remembered device skips the code until the password changes", async ({ page, browser, request }) => {
  const mobile = uniqueMobile();
  const username = uniqueUsername("rita");
  await registerAndVerify(page, request, { username, mobile, givenName: "Rita" });
  await logOut(page);

  // The code step offers to remember this device; the patient ticks it.
  let seen = await textCount(request, mobile.e164);
  await logIn(page, username);
  await expect(page).toHaveURL(/\/verify$/);
  let code = await codeFor(request, mobile.e164, seen);
  await hydrated(page);
  const remember = page.getByLabel(/^Don't ask for a code on this device/);
  await expect(remember).toHaveAccessibleName("Don't ask for a code on this device for 30 days");
  await expect(remember).not.toBeChecked();
  await expectAccessible(page);
  await page.getByLabel("Verification code").fill(code);
  await remember.check();
  await screenshot(page, "1-remember-this-device");
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Rita" })).toBeVisible();
  await logOut(page);

  // The next login asks for the password only, and no text goes.
  seen = await textCount(request, mobile.e164);
  await logIn(page, username);
  await expect(page.getByRole("heading", { name: "Welcome, Rita" })).toBeVisible();
  expect(await textCount(request, mobile.e164)).toBe(seen);

  await page.getByRole("link", { name: "Sign-in and security" }).click();
  await expect(page).toHaveURL(/\/security$/);
  await expect(page.getByRole("heading", { name: "Sign-in and security", level: 1 })).toBeVisible();
  const devices = page.locator("section", { has: page.getByRole("heading", { name: "Remembered devices" }) });
  await expect(devices.locator("li")).toHaveCount(1);
  await expect(devices.locator("li")).toContainText("This device");
  await expect(devices.getByRole("button", { name: "Forget this device" })).toBeVisible();
  const activity = page.locator("section", { has: page.getByRole("heading", { name: "Recent activity" }) });
  await expect(activity).toContainText("Signed in without a code on a remembered device");
  await expect(activity).toContainText("A device was remembered");
  await expectAccessible(page);
  await screenshot(page, "2-security-page");

  // The practice gives a new password: the device is forgotten, and the code is asked again.
  const staffContext = await browser.newContext();
  const staffPage = await staffContext.newPage();
  await supportMember(staffPage);
  await openPatient(staffPage, username);
  await act(staffPage, "Issue one-time password", "Forgot password; identity checked by phone");
  const given = (await staffPage.locator(".one-time-password code").textContent())!.trim();
  await staffContext.close();

  seen = await textCount(request, mobile.e164);
  await page.goto("/login");
  await logIn(page, username, given);
  await expect(page).toHaveURL(/\/verify$/);
  code = await codeFor(request, mobile.e164, seen);
  await hydrated(page);
  await page.getByLabel("Verification code").fill(code);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "Choose your password" })).toBeVisible();
  await hydrated(page);
  await page.getByLabel("One-time password from the practice").fill(given);
  await page.getByLabel("Password", { exact: true }).fill("my very own phrase");
  await page.getByLabel("Confirm password").fill("my very own phrase");
  await page.getByRole("button", { name: "Save password" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Rita" })).toBeVisible();
  await page.getByRole("link", { name: "Sign-in and security" }).click();
  await expect(page.getByText("No devices are remembered.")).toBeVisible();
  await expect(activity).toContainText("The practice gave you a one-time password.");
  await expect(activity).not.toContainText("staff");
});

test("Sign out everywhere else ends the other browser's session", async ({ page, browser, request }) => {
  const mobile = uniqueMobile();
  const username = uniqueUsername("omar");
  await registerAndVerify(page, request, { username, mobile, givenName: "Omar" });

  const otherContext = await browser.newContext();
  const other = await otherContext.newPage();
  const seen = await textCount(request, mobile.e164);
  await other.goto("/login");
  await logIn(other, username);
  await expect(other).toHaveURL(/\/verify$/);
  const code = await codeFor(request, mobile.e164, seen);
  await hydrated(other);
  await other.getByLabel("Verification code").fill(code);
  await other.getByRole("button", { name: "Verify" }).click();
  await expect(other.getByRole("heading", { name: "Welcome, Omar" })).toBeVisible();

  await page.getByRole("link", { name: "Sign-in and security" }).click();
  await expect(page).toHaveURL(/\/security$/);
  const sessions = page.locator("section", { has: page.getByRole("heading", { name: "Where you're signed in" }) });
  await expect(sessions.locator("li")).toHaveCount(2);
  await expect(sessions.locator("li").filter({ hasText: "This device" })).toHaveCount(1);
  await expect(sessions.getByRole("button", { name: "Sign out", exact: true })).toHaveCount(1);
  await expectAccessible(page);
  await page.setViewportSize({ width: 360, height: 800 });
  await screenshot(page, "1-where-you-are-signed-in-phone");

  await sessions.getByRole("button", { name: "Sign out everywhere else" }).click();
  await expect(page.getByRole("status").first()).toContainText("You're signed out everywhere else.");
  await expect(sessions.locator("li")).toHaveCount(1);
  await expect(page.getByText("You aren't signed in anywhere else.")).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, "2-signed-out-elsewhere");

  // The other browser's next page is the login page.
  await other.goto("/profile");
  await expect(other).toHaveURL(/\/login/);
  await otherContext.close();
});

test("a remembered device confirms it's you with a code before a new number", async ({ page, request }) => {
  const mobile = uniqueMobile();
  const newMobile = uniqueMobile();
  const username = uniqueUsername("noa");
  await registerAndVerify(page, request, { username, mobile, givenName: "Noa" });
  await logOut(page);
  // A device remembered, then a sign-in on it with the password alone.
  let seen = await textCount(request, mobile.e164);
  await logIn(page, username);
  await expect(page).toHaveURL(/\/verify$/);
  const code = await codeFor(request, mobile.e164, seen);
  await hydrated(page);
  await page.getByLabel("Verification code").fill(code);
  await page.getByLabel(/^Don't ask for a code on this device/).check();
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Noa" })).toBeVisible();
  await logOut(page);
  await logIn(page, username);
  await expect(page.getByRole("heading", { name: "Welcome, Noa" })).toBeVisible();

  // "?" → "here": the dialog asks to confirm it's you first, and saves nothing.
  await page.getByRole("link", { name: "Personal Information" }).click();
  await expect(page).toHaveURL(/\/profile$/);
  await hydrated(page);
  await page.getByRole("button", { name: "About your mobile number" }).click();
  await page.getByRole("link", { name: "here" }).click();
  const dialog = page.getByRole("dialog", { name: "Change your mobile number" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "Save & Get Code" })).toHaveCount(0);
  await expectAccessible(page);
  await screenshot(page, "1-confirm-first");
  await dialog.getByRole("link", { name: "Confirm it's you" }).click();

  await expect(page).toHaveURL(/\/confirm\?for=number/);
  await expect(page.getByRole("heading", { name: "Confirm it's you", level: 1 })).toBeVisible();
  await expect(page.getByText(`mobile ending ${mobile.e164.slice(-2)}`)).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, "2-confirm-its-you");
  seen = await textCount(request, mobile.e164);
  await page.getByRole("button", { name: "Send Code" }).click();
  await expect(page.getByLabel("Verification code")).toBeVisible();
  // The code goes to the verified number, not to any the session could name.
  await page.getByLabel("Verification code").fill(await codeFor(request, mobile.e164, seen));
  await screenshot(page, "3-code-to-confirm");
  await page.getByRole("button", { name: "Verify" }).click();

  // On to the new number, as the patient meant to.
  await expect(page).toHaveURL(/\/profile\/mobile/);
  await hydrated(page);
  await page.getByLabel("Mobile number").fill(newMobile.typed);
  await page.getByRole("button", { name: "Save & Get Code" }).click();
  await page.getByLabel("Verification code").fill(await codeFor(request, newMobile.e164));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("status").first()).toContainText(`ending ${newMobile.e164.slice(-2)} is verified`);
  await expectAccessible(page);
  await screenshot(page, "4-new-number-verified");
});
