// A hurried person on a slow phone: the CPU throttled six times (as Chromium's DevTools do), a
// field typed and Enter pressed as soon as the page shows, before its scripts have woken (the
// islands' own wasm is held back until then, so they surely haven't). Every form must still
// give its answer.
import { expect } from "@playwright/test";
import {
  PASSWORD,
  addStaff,
  codeFor,
  enrolStaff,
  registerAndVerify,
  screenshot,
  test,
  textCount,
  uniqueMobile,
  uniqueUsername,
  STAFF_PASSWORD,
  authenticatorCode,
  currentStep,
  slowPhone,
} from "./support";

test("a patient who types their code and presses Enter at once is signed in", async ({ page, browser, request }) => {
  test.setTimeout(120_000);
  const mobile = uniqueMobile();
  const username = uniqueUsername("hurried");
  const setup = await browser.newPage();
  await registerAndVerify(setup, request, { username, mobile });
  await setup.close();

  const wake = await slowPhone(page);
  await page.goto("/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  const seen = await textCount(request, mobile.e164);
  await page.getByLabel("Password").press("Enter");
  await expect(page).toHaveURL(/\/verify$/);
  const code = await codeFor(request, mobile.e164, seen);
  // A wrong code first: the answer says so, beside the field.
  await page.getByLabel("Verification code").fill(code === "000000" ? "111111" : "000000");
  await page.getByLabel("Verification code").press("Enter");
  await expect(page.locator("#code-error")).not.toBeEmpty();
  await page.getByLabel("Verification code").fill(code);
  await page.getByLabel("Verification code").press("Enter");
  await expect(page.getByRole("button", { name: "Log out" })).toBeVisible();
  wake();
  await screenshot(page, "hurried-signed-in");
});

test("a patient who changes their number in a hurry gets the code and verifies it", async ({ page, request }) => {
  test.setTimeout(120_000);
  const username = uniqueUsername("hurriednew");
  await registerAndVerify(page, request, { username, mobile: uniqueMobile() });
  const newMobile = uniqueMobile();
  const wake = await slowPhone(page);
  await page.goto("/profile/mobile");
  await page.getByLabel("Mobile number").fill(newMobile.typed);
  await page.getByLabel("Mobile number").press("Enter");
  await expect(page.getByRole("status").filter({ hasText: "We saved" })).toContainText(
    `ending ${newMobile.e164.slice(-2)}`,
  );
  await page.getByLabel("Verification code").fill(await codeFor(request, newMobile.e164));
  await page.getByLabel("Verification code").press("Enter");
  await expect(page.getByRole("status").filter({ hasText: "verified" })).toContainText(
    `Your new mobile number ending ${newMobile.e164.slice(-2)} is verified`,
  );
  wake();
});

test("support searches the moment the page shows, and the patient is found", async ({ page, browser, request }) => {
  test.setTimeout(120_000);
  const username = uniqueUsername("hurriedfind");
  const setup = await browser.newPage();
  await registerAndVerify(setup, request, { username, mobile: uniqueMobile() });
  const name = uniqueUsername("staff");
  const staff = await enrolStaff(setup, name, addStaff(name, "support"));
  await setup.close();

  const wake = await slowPhone(page);
  await page.goto("/staff/login");
  await page.getByLabel("Username").fill(staff.name);
  await page.getByLabel("Password").fill(STAFF_PASSWORD);
  // A code works once: the enrolment's step is spent (the next one is accepted too).
  await expect.poll(() => currentStep() + 1 > staff.usedStep, { timeout: 40_000 }).toBe(true);
  const step = Math.max(currentStep(), staff.usedStep + 1);
  await page.getByLabel("Authenticator code").fill(authenticatorCode(staff.secret, step));
  await page.getByLabel("Authenticator code").press("Enter");
  await expect(page.getByRole("heading", { name: "Search patients" })).toBeVisible();
  await page.getByLabel("Search patients").fill(username);
  await page.getByLabel("Search patients").press("Enter");
  await expect(page.locator(".patient-list li").filter({ hasText: username })).toHaveCount(1);
  await expect(page).toHaveURL(new RegExp(`/staff\\?query=${username}$`));
  wake();
  await screenshot(page, "hurried-search");
});
