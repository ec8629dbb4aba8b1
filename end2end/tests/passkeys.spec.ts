// Passkeys in Chromium with its virtual authenticator (CDP WebAuthn: ctap2, internal, resident
// keys, user verification): add one after a code, sign in with it alone, use it after a password
// in place of the code, remove it, and have support remove them. On the portal reached at
// http://localhost, as browsers refuse an IP address as a passkey's site.
import { expect, type Page } from "@playwright/test";
import { passkeys as portal } from "../portal-env";
import {
  PASSWORD,
  STAFF_PASSWORD,
  act,
  addStaff,
  codeFor,
  enrolStaff,
  expectAccessible,
  hydrated,
  logIn,
  logOut,
  openPatient,
  registerAndVerify,
  screenshot,
  staffLogin,
  test,
  textCount,
  uniqueMobile,
  uniqueUsername,
} from "./support";

/** A phone's screen lock, as Chromium simulates it: passkeys live in it, and it verifies its user. */
async function virtualAuthenticator(page: Page) {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    /** Whether someone is at the phone to confirm with their screen lock. */
    async present(yes: boolean) {
      await cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled: yes });
    },
    async count(): Promise<number> {
      const { credentials } = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
      return credentials.length;
    },
  };
}

async function addPasskey(page: Page, name: string) {
  await page.getByRole("link", { name: "Sign-in and security" }).click();
  await expect(page).toHaveURL(/\/security$/);
  await page.getByLabel("Passkey name").fill(name);
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page).toHaveURL(/\/security\?passkey-added$/);
  await expect(page.getByRole("status").first()).toContainText("Your passkey is added.");
}


test("a patient adds a passkey after a code, then signs in with the passkey alone", async ({ page, request }) => {
  const authenticator = await virtualAuthenticator(page);
  const mobile = uniqueMobile();
  const username = uniqueUsername("pia");
  await registerAndVerify(page, request, { username, mobile, givenName: "Pia" });

  await page.getByRole("link", { name: "Sign-in and security" }).click();
  const passkeysCard = page.locator("section", { has: page.getByRole("heading", { name: "Passkeys" }) });
  await expect(passkeysCard.getByRole("button", { name: "Add a passkey" })).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, "1-before-a-passkey");

  const seen = await textCount(request, mobile.e164);
  await addPasskey(page, "My laptop");
  expect(await authenticator.count()).toBe(1);
  await expect(passkeysCard.locator("li")).toContainText("My laptop");
  // The verified number is told.
  expect(await textCount(request, mobile.e164)).toBe(seen + 1);
  await expectAccessible(page);
  await screenshot(page, "2-passkey-added");

  // The login page's autofill would offer the passkey at once (Chromium's virtual authenticator
  // picks it as a person would): held back here, so the button is what signs in.
  let first = true;
  await page.route("**/api/passkey_challenge", (route) => {
    if (!first) return route.continue();
    first = false;
    return route.abort();
  });
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);
  await expect(page.getByLabel("Username")).toHaveAttribute("autocomplete", "username webauthn");
  await expect(page.getByRole("button", { name: "Sign in with a passkey" })).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, "3-login-with-passkey");
  const before = await textCount(request, mobile.e164);
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Pia" })).toBeVisible();
  expect(await textCount(request, mobile.e164)).toBe(before);
  await page.unroute("**/api/passkey_challenge");

  await page.getByRole("link", { name: "Sign-in and security" }).click();
  const activity = page.locator("section", { has: page.getByRole("heading", { name: "Recent activity" }) });
  await expect(activity).toContainText("Signed in with a passkey.");

  // And the username field's autofill: the passkey picked there signs in, nothing typed.
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Pia" })).toBeVisible();
});

test("after the password, a passkey takes the code's place", async ({ page, request }) => {
  const authenticator = await virtualAuthenticator(page);
  const mobile = uniqueMobile();
  const username = uniqueUsername("quinn");
  await registerAndVerify(page, request, { username, mobile, givenName: "Quinn" });
  await addPasskey(page, "Phone");
  // Nobody at the phone: the login page's autofill request waits, and is dropped as the page
  // moves on to the code step.
  await authenticator.present(false);
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);

  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/verify$/);
  await hydrated(page);
  const instead = page.getByRole("button", { name: "Use a passkey instead" });
  await expect(instead).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, "1-use-a-passkey-instead");
  await authenticator.present(true);
  await instead.click();
  await expect(page.getByRole("heading", { name: "Welcome, Quinn" })).toBeVisible();
});

test("a removed passkey no longer signs in", async ({ page, request }) => {
  await virtualAuthenticator(page);
  const mobile = uniqueMobile();
  const username = uniqueUsername("rosa");
  await registerAndVerify(page, request, { username, mobile, givenName: "Rosa" });
  await addPasskey(page, "Old phone");

  const passkeysCard = page.locator("section", { has: page.getByRole("heading", { name: "Passkeys" }) });
  await passkeysCard.getByRole("button", { name: "Remove" }).click();
  await expect(page.getByRole("status").first()).toContainText("The passkey is removed.");
  await expect(passkeysCard.locator("li")).toHaveCount(0);
  await logOut(page);

  // The phone still offers it, and the portal refuses it.
  await page.getByRole("button", { name: "Sign in with a passkey" }).click();
  await expect(page.getByRole("alert").filter({ hasText: "That passkey didn't sign you in" })).toBeVisible();
  await expect(page).toHaveURL(/\/login$/);
  await screenshot(page, "1-removed-passkey-refused");
});

test("support removes a patient's passkeys", async ({ page, browser, request }) => {
  await virtualAuthenticator(page);
  const mobile = uniqueMobile();
  const username = uniqueUsername("sol");
  await registerAndVerify(page, request, { username, mobile, givenName: "Sol" });
  await addPasskey(page, "Stolen phone");

  const staffContext = await browser.newContext({ baseURL: portal.baseURL });
  const staffPage = await staffContext.newPage();
  const name = uniqueUsername("staff");
  const staff = await enrolStaff(staffPage, name, addStaff(name, "support", portal.env));
  await staffLogin(staffPage, staff);
  await openPatient(staffPage, username);
  await expect(staffPage.locator("ul.passkeys")).toContainText("Stolen phone");
  await act(staffPage, "Remove passkeys", "Phone stolen; identity checked by phone");
  await expect(staffPage.getByRole("status").first()).toContainText("passkeys are removed");
  await screenshot(staffPage, "1-passkeys-removed");
  await staffContext.close();

  // Every session ended with them: the passkey's too, and the patient's own here.
  await page.goto("/security");
  await expect(page).toHaveURL(/\/login/);
  await hydrated(page);
  // The autofill would offer the removed passkey: held back, as a patient would ignore it.
  await page.route("**/api/passkey_challenge", (route) => route.abort());
  const seen = await textCount(request, mobile.e164);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/verify$/);
  await hydrated(page);
  await page.getByLabel("Verification code").fill(await codeFor(request, mobile.e164, seen));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Sol" })).toBeVisible();
  await page.unroute("**/api/passkey_challenge");
  await page.getByRole("link", { name: "Sign-in and security" }).click();
  await expect(page.getByText("The practice removed your passkeys.")).toBeVisible();
  const passkeysCard = page.locator("section", { has: page.getByRole("heading", { name: "Passkeys" }) });
  await expect(passkeysCard.locator("li")).toHaveCount(0);
  await expectAccessible(page);
});

test("a staff member signs in with their password and a passkey instead of the code", async ({ page }) => {
  await virtualAuthenticator(page);
  const name = uniqueUsername("staff");
  const staff = await enrolStaff(page, name, addStaff(name, "support", portal.env));
  await staffLogin(page, staff);
  await page.getByRole("link", { name: "Your passkeys" }).click();
  await expect(page).toHaveURL(/\/staff\/passkeys$/);
  await expect(page.getByRole("heading", { name: "Your passkeys" })).toBeVisible();
  await page.getByLabel("Passkey name").fill("Front desk PC");
  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page).toHaveURL(/\/staff\/passkeys\?added$/);
  await expect(page.locator(".security-list li")).toContainText("Front desk PC");
  await expectAccessible(page);
  await screenshot(page, "1-your-passkeys");

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/staff\/login$/);
  await hydrated(page);
  await page.getByLabel("Username").fill(name);
  await page.getByLabel("Password").fill(STAFF_PASSWORD);
  await expectAccessible(page);
  await screenshot(page, "2-staff-login-with-passkey");
  await page.getByRole("button", { name: "Use a passkey instead of the code" }).click();
  await expect(page.getByRole("navigation", { name: "Staff" })).toBeVisible();
  await expect(page.getByRole("heading", { name: "Search patients" })).toBeVisible();
});

test("a patient who lost their phone adds a passkey in place of a new phone", async ({ page, request }) => {
  await virtualAuthenticator(page);
  const username = uniqueUsername("huia");
  await registerAndVerify(page, request, { username, mobile: uniqueMobile(), givenName: "Huia" });
  await page.getByRole("link", { name: "Sign-in and security" }).click();
  await hydrated(page);
  await page.getByRole("button", { name: "Save a recovery code" }).click();
  const code = (await page.locator(".recovery-code code").textContent())!.trim();
  await page.getByLabel("I've saved my recovery code").check();
  await page.getByRole("button", { name: "Done" }).click();
  await expect(page.getByText(/You saved a recovery code on/)).toBeVisible();
  await logOut(page);

  await logIn(page, username);
  await expect(page).toHaveURL(/\/verify$/);
  await hydrated(page);
  await page.getByRole("link", { name: "Can't get a code?" }).click();
  await hydrated(page);
  await page.getByLabel("Recovery code").fill(code);
  await page.getByRole("button", { name: "Continue" }).click();
  await page.getByLabel("I've saved my recovery code").check();
  await page.getByRole("button", { name: "Done" }).click();
  await expect(page.getByRole("heading", { name: "Set up your new phone" })).toBeVisible();
  await hydrated(page);
  const instead = page.getByRole("heading", { name: "Or add a passkey instead" });
  await expect(instead).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, "1-new-phone-or-a-passkey");

  await page.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page).toHaveURL(/\/security\?passkey-added$/);
  await expect(page.getByRole("status").first()).toContainText("Your passkey is added.");
  await expect(page.getByRole("note")).toContainText("You used your recovery code in the last day.");
  await expectAccessible(page);
  await screenshot(page, "2-signed-in-with-the-new-passkey");
});
