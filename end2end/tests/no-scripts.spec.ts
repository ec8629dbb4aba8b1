// Every journey with scripts off, as on a phone where the app hasn't loaded (or never will): the
// forms post as plain HTML, refused ones come back with their errors and what was typed, and
// the mobile number dialog is a page of its own.
import { expect, type APIRequestContext, type Page } from "@playwright/test";
import {
  PASSWORD,
  codeFor,
  expectAccessibleWithoutScripts,
  importPatients,
  screenshot,
  test,
  textCount,
  uniqueMobile,
  uniqueUsername,
} from "./support";

test.use({ javaScriptEnabled: false });

/** Nothing of an error ever travels in the address. */
async function expectCleanAddress(page: Page, path: RegExp): Promise<void> {
  await expect(page).toHaveURL(path);
  expect(page.url()).not.toContain("__err");
}

async function fillRegistration(page: Page, username: string, mobile: string): Promise<void> {
  await page.getByLabel("Given name").fill("Margaret");
  await page.getByLabel("Family name").fill("Smith");
  await page.getByLabel("Date of birth").fill("1950-07-31");
  await page.getByLabel("Email").fill("margaret@example.org");
  await page.getByLabel("Mobile number").fill(mobile);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm password").fill(PASSWORD);
}

/** Registers and verifies the number without scripts: a signed-in patient on the home page. */
async function registerWithoutScripts(
  page: Page,
  request: APIRequestContext,
  username: string,
  mobile: { typed: string; e164: string },
): Promise<void> {
  await page.goto("/register");
  await fillRegistration(page, username, mobile.typed);
  await page.getByRole("button", { name: "Register" }).click();
  await expectCleanAddress(page, /\/verify$/);
  const seen = await textCount(request, mobile.e164);
  await page.getByRole("button", { name: "Send Code" }).click();
  await expectCleanAddress(page, /\/verify$/);
  await expect(page.getByRole("status")).toContainText("We sent a code to your mobile ending");
  await page.getByLabel("Verification code").fill(await codeFor(request, mobile.e164, seen));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("button", { name: "Log out" })).toBeVisible();
}

test("a refused registration keeps what was typed, then the patient registers, gets a code and is signed in", async ({
  page,
  request,
}) => {
  const mobile = uniqueMobile();
  const username = uniqueUsername("plain");
  await page.goto("/register");
  await expectAccessibleWithoutScripts(page);
  await fillRegistration(page, username, "04 471 1234");
  await page.getByRole("button", { name: "Register" }).click();

  // The landline is refused beside its field; everything but the passwords is still there.
  await expectCleanAddress(page, /\/register$/);
  await expect(page.locator("#mobile-error")).toHaveText(
    "Please enter a mobile number; landlines can't receive text messages",
  );
  await expect(page.getByRole("alert")).toContainText("Please check the highlighted details.");
  await expect(page.getByLabel("Given name")).toHaveValue("Margaret");
  await expect(page.getByLabel("Family name")).toHaveValue("Smith");
  await expect(page.getByLabel("Date of birth")).toHaveValue("1950-07-31");
  await expect(page.getByLabel("Email")).toHaveValue("margaret@example.org");
  await expect(page.getByLabel("Mobile number")).toHaveValue("04 471 1234");
  await expect(page.getByLabel("Username")).toHaveValue(username);
  await expect(page.getByLabel("Password", { exact: true })).toHaveValue("");
  await expect(page.getByLabel("Confirm password")).toHaveValue("");
  await expectAccessibleWithoutScripts(page);
  await screenshot(page, "1-refused-registration");

  // Seen once: coming back later shows a fresh form.
  await page.reload();
  await expect(page.getByLabel("Given name")).toHaveValue("");

  await fillRegistration(page, username, mobile.typed);
  await page.getByRole("button", { name: "Register" }).click();
  await expectCleanAddress(page, /\/verify$/);
  await expect(page.getByRole("heading", { name: "Check your phone" })).toBeVisible();
  await expectAccessibleWithoutScripts(page);
  await page.getByRole("button", { name: "Send Code" }).click();
  await expect(page.getByRole("status")).toContainText("We sent a code to your mobile ending");
  await screenshot(page, "2-code-sent");
  await page.getByLabel("Verification code").fill(await codeFor(request, mobile.e164));
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Margaret" })).toBeVisible();
  await expectAccessibleWithoutScripts(page);
  await screenshot(page, "3-signed-in");
});

test("a patient logs in, types a wrong code, then the right one, and is signed in", async ({ page, request }) => {
  const mobile = uniqueMobile();
  const username = uniqueUsername("plain");
  await registerWithoutScripts(page, request, username, mobile);
  await page.getByRole("button", { name: "Log out" }).click();
  await expectCleanAddress(page, /\/login$/);

  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill("not my password at all");
  await page.getByRole("button", { name: "Log in" }).click();
  await expectCleanAddress(page, /\/login$/);
  await expect(page.getByRole("alert")).toContainText("That username and password don't match");
  await expect(page.getByLabel("Username")).toHaveValue(username);
  await expect(page.getByLabel("Password")).toHaveValue("");
  await expectAccessibleWithoutScripts(page);

  const seen = await textCount(request, mobile.e164);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expectCleanAddress(page, /\/verify$/);
  await expect(page.getByRole("status")).toContainText("We sent a code to your mobile ending");
  const code = await codeFor(request, mobile.e164, seen);

  await page.getByLabel("Verification code").fill(code === "000000" ? "111111" : "000000");
  await page.getByRole("button", { name: "Verify" }).click();
  await expectCleanAddress(page, /\/verify$/);
  await expect(page.locator("#code-error")).toContainText("That code isn't right");
  await expect(page.locator("#code-error")).toContainText("4 tries left");
  await expectAccessibleWithoutScripts(page);
  await screenshot(page, "1-wrong-code");

  await page.getByLabel("Verification code").fill(code);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Margaret" })).toBeVisible();
});

test("a patient without a verified number gives one at login, gets a code and verifies it", async ({
  page,
  request,
}) => {
  const mobile = uniqueMobile();
  const username = uniqueUsername("plain");
  const oneTimePassword = "practice gave me this one";
  importPatients([`${username},Arthur,Jones,1942-03-04,04 471 1234,,${oneTimePassword}`]);

  await page.goto("/login");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(oneTimePassword);
  await page.getByRole("button", { name: "Log in" }).click();
  await expectCleanAddress(page, /\/verify$/);
  await expect(page.getByRole("heading", { name: "Verify your mobile number" })).toBeVisible();

  // The landline on file is refused; a mistyped number is kept to correct.
  await page.getByLabel("Mobile number").fill("021 55");
  await page.getByRole("button", { name: "Get Code" }).click();
  await expectCleanAddress(page, /\/verify$/);
  await expect(page.locator("#mobile-error")).not.toBeEmpty();
  await expect(page.getByLabel("Mobile number")).toHaveValue("021 55");
  await expectAccessibleWithoutScripts(page);
  await screenshot(page, "1-number-refused");

  await page.getByLabel("Mobile number").fill(mobile.typed);
  await page.getByRole("button", { name: "Get Code" }).click();
  await expectCleanAddress(page, /\/verify$/);
  await expect(page.getByRole("status")).toContainText("We sent a code");
  await page.getByLabel("Verification code").fill(await codeFor(request, mobile.e164));
  await page.getByRole("button", { name: "Verify" }).click();

  await expect(page.getByRole("heading", { name: "Choose your password" })).toBeVisible();
  await page.getByLabel("One-time password from the practice").fill(oneTimePassword);
  await page.getByLabel("Password", { exact: true }).fill("my very own phrase");
  await page.getByLabel("Confirm password").fill("my very own phrase");
  await page.getByRole("button", { name: "Save password" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Arthur" })).toBeVisible();
  await expect(page.locator(".mobile-status")).toContainText("Verified");
});

test("a patient changes their mobile number on the number's own page", async ({ page, request }) => {
  const oldMobile = uniqueMobile();
  const newMobile = uniqueMobile();
  await registerWithoutScripts(page, request, uniqueUsername("plain"), oldMobile);

  await page.goto("/profile");
  // Without scripts "?" has nothing to open: the explanation is simply there.
  await expect(page.getByRole("button", { name: "About your mobile number" })).toBeHidden();
  await expect(page.locator("#mobile-help")).toBeVisible();
  await expectAccessibleWithoutScripts(page);
  await screenshot(page, "1-profile");
  await page.getByRole("link", { name: "here" }).click();

  await expectCleanAddress(page, /\/profile\/mobile$/);
  await expect(page.getByRole("heading", { name: "Change your mobile number" })).toBeVisible();
  await expectAccessibleWithoutScripts(page);
  await page.getByLabel("Mobile number").fill("04 471 1234");
  await page.getByRole("button", { name: "Save & Get Code" }).click();
  await expectCleanAddress(page, /\/profile\/mobile$/);
  await expect(page.getByLabel("Mobile number")).toHaveValue("04 471 1234");
  await expect(page.locator("#new-mobile-error")).toHaveText(
    "Please enter a mobile number; landlines can't receive text messages",
  );

  await page.getByLabel("Mobile number").fill(newMobile.typed);
  await page.getByRole("button", { name: "Save & Get Code" }).click();
  await expectCleanAddress(page, /\/profile\/mobile$/);
  await expect(page.getByRole("status").filter({ hasText: "We saved" })).toContainText(
    `ending ${newMobile.e164.slice(-2)}`,
  );
  await expectAccessibleWithoutScripts(page);
  await screenshot(page, "2-code-step");
  await page.getByLabel("Verification code").fill(await codeFor(request, newMobile.e164));
  await page.getByRole("button", { name: "Verify" }).click();

  await expectCleanAddress(page, /\/profile\/mobile\?verified$/);
  await expect(page.getByRole("status").filter({ hasText: "verified" })).toContainText(
    `Your new mobile number ending ${newMobile.e164.slice(-2)} is verified`,
  );
  await screenshot(page, "3-verified");
  await page.getByRole("link", { name: "Back to Personal Information" }).click();
  await expect(page.locator(".mobile-status").first()).toContainText(newMobile.typed);
  await expect(page.locator(".mobile-status").first()).toContainText("Verified");
});
