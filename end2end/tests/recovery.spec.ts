// A lost phone without a phone call: a recovery code saved after registration, then used after
// the password ("Can't get a code?") to set up a new phone. One journey runs on a slow phone,
// pressing Enter before the page's scripts have woken. axe runs on each page.
import { expect, type Page } from "@playwright/test";
import {
  PASSWORD,
  codeFor,
  expectAccessible,
  hydrated,
  logIn,
  logOut,
  registerAndVerify,
  screenshot,
  slowPhone,
  test,
  textCount,
  uniqueMobile,
  uniqueUsername,
  wasntMeLink,
} from "./support";

/** From the home page's "Make signing in easier" to a saved code: the code. */
async function saveRecoveryCode(page: Page): Promise<string> {
  const nudge = page.getByRole("region", { name: "Make signing in easier" });
  await expect(nudge).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, "1-make-signing-in-easier");
  await nudge.getByRole("link", { name: "Save a recovery code" }).click();
  await expect(page.getByRole("heading", { name: "Recovery code", exact: true })).toBeVisible();
  await hydrated(page);
  await page.getByRole("button", { name: "Save a recovery code" }).click();
  const shown = page.locator(".recovery-code code");
  await expect(shown).toHaveText(/^[2-9A-HJ-NP-Z]{4}(-[2-9A-HJ-NP-Z]{4}){3}$/);
  const code = (await shown.textContent())!.trim();
  await expect(page.getByRole("button", { name: "Copy" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Download" })).toHaveAttribute("download", "recovery-code.txt");
  await expect(page.getByRole("button", { name: "Print" })).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, "2-recovery-code-shown");
  // "Done" waits for the tick.
  await page.getByRole("button", { name: "Done" }).click();
  await expect(shown).toBeVisible();
  await page.getByLabel("I've saved my recovery code").check();
  await page.getByRole("button", { name: "Done" }).click();
  await expect(page.getByText(/You saved a recovery code on/)).toBeVisible();
  await expect(page.locator(".recovery-code code")).toHaveCount(0);
  await screenshot(page, "3-recovery-code-saved");
  return code;
}

test("a patient saves a recovery code at registration", async ({ page, request }) => {
  const username = uniqueUsername("rangi");
  await registerAndVerify(page, request, { username, mobile: uniqueMobile(), givenName: "Rangi" });
  await saveRecoveryCode(page);
  // The nudge has done its work.
  await page.getByRole("link", { name: "Home" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Rangi" })).toBeVisible();
  await expect(page.getByRole("region", { name: "Make signing in easier" })).toHaveCount(0);
});

test("a patient who lost their phone signs in with a recovery code and sets up a new one", async ({ page, request }) => {
  const oldMobile = uniqueMobile();
  const newMobile = uniqueMobile();
  const username = uniqueUsername("mere");
  await registerAndVerify(page, request, { username, mobile: oldMobile, givenName: "Mere" });
  const code = await saveRecoveryCode(page);
  await logOut(page);

  // The phone is gone: the password, then "Can't get a code?".
  await logIn(page, username);
  await expect(page).toHaveURL(/\/verify$/);
  await hydrated(page);
  await page.getByRole("link", { name: "Can't get a code?" }).click();
  await expect(page.getByRole("heading", { name: "Can't get a code?" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Use a recovery code" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Contact the practice" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Use a passkey instead" })).toHaveCount(0);
  await hydrated(page);
  await expectAccessible(page);
  await screenshot(page, "1-cant-get-a-code");
  await page.getByLabel("Recovery code").fill("ABCD-EFGH-JKLM-NPQR");
  await page.getByRole("button", { name: "Continue" }).click();
  await expect(page.locator("#recovery_code-error")).toContainText("isn't right");
  await page.getByLabel("Recovery code").fill(code.toLowerCase());
  await page.getByRole("button", { name: "Continue" }).click();

  // The new code comes first, before any new phone.
  const shown = page.locator(".recovery-code code");
  await expect(shown).toBeVisible();
  const fresh = (await shown.textContent())!.trim();
  expect(fresh).not.toEqual(code);
  await expectAccessible(page);
  await screenshot(page, "2-new-recovery-code");
  await page.getByLabel("I've saved my recovery code").check();
  await page.getByRole("button", { name: "Done" }).click();

  await expect(page.getByRole("heading", { name: "Set up your new phone" })).toBeVisible();
  await hydrated(page);
  await expectAccessible(page);
  await screenshot(page, "3-set-up-your-new-phone");
  await page.getByLabel("Mobile number").fill(newMobile.typed);
  await page.getByRole("button", { name: "Save & Get Code" }).click();
  const phoneCode = await codeFor(request, newMobile.e164);
  await page.getByLabel("Verification code").fill(phoneCode);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Mere" })).toBeVisible();
  await expect(page.locator(".mobile-status")).toContainText(newMobile.typed);
  await screenshot(page, "4-signed-in-with-the-new-phone");
  // The old number was told.
  expect(await textCount(request, oldMobile.e164)).toBeGreaterThan(1);
});

test("on a slow phone, a recovery code typed with Enter before the page wakes still shows the new code", async ({ page, browser, request }) => {
  test.setTimeout(120_000);
  const username = uniqueUsername("hurriedrecovery");
  const setupContext = await browser.newContext();
  const setup = await setupContext.newPage();
  await registerAndVerify(setup, request, { username, mobile: uniqueMobile(), givenName: "Aroha" });
  const code = await saveRecoveryCode(setup);
  await setupContext.close();

  const wake = await slowPhone(page);
  await page.goto("/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByLabel("Password").press("Enter");
  await expect(page).toHaveURL(/\/verify$/);
  await page.goto("/cant-get-a-code");
  await page.getByLabel("Recovery code").fill(code);
  await page.getByLabel("Recovery code").press("Enter");
  const shown = page.locator(".recovery-code code");
  await expect(shown).toBeVisible();
  expect((await shown.textContent())!.trim()).not.toEqual(code);
  await page.getByLabel("I've saved my recovery code").check();
  await page.getByRole("button", { name: "Done" }).press("Enter");
  await expect(page.getByRole("heading", { name: "Set up your new phone" })).toBeVisible();
  wake();
  await screenshot(page, "hurried-recovery");
});

test("a patient who didn't make a change secures their account from the notice's link", async ({ page, request, browser }) => {
  const mobile = uniqueMobile();
  const username = uniqueUsername("tane");
  await registerAndVerify(page, request, { username, mobile, givenName: "Tane" });
  // Someone with the session makes a recovery code; the phone hears of it, with a link.
  await saveRecoveryCode(page);
  const link = await wasntMeLink(request, mobile.e164);
  expect(link).toMatch(/\/secure\?t=[A-Za-z0-9_-]{22}$/);

  const phone = await browser.newContext();
  const owner = await phone.newPage();
  await owner.goto(link);
  await expect(owner.getByRole("heading", { name: "Secure your account" })).toBeVisible();
  await hydrated(owner);
  await expectAccessible(owner);
  await screenshot(owner, "1-secure-your-account");
  // Opening it changed nothing: the other session is still signed in.
  await page.reload();
  await expect(page.getByRole("button", { name: "Log out" })).toBeVisible();
  await owner.getByLabel("Password").fill("not my password at all");
  await owner.getByRole("button", { name: "Secure my account" }).click();
  await expect(owner.locator("#password-error")).toContainText("isn't your password");
  await owner.getByLabel("Password").fill(PASSWORD);
  await owner.getByRole("button", { name: "Secure my account" }).click();
  await expect(owner.getByRole("status")).toContainText("secured and on hold");
  await expectAccessible(owner);
  await screenshot(owner, "2-secured");
  await phone.close();

  // Every session ended; the next login, even with the right password, is sent to the practice.
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
  await logIn(page, username);
  await expect(page.getByRole("alert")).toContainText("on hold");
  await expectAccessible(page);
  await screenshot(page, "3-held-at-login");
});
