// Seed flow 3, on a phone-sized screen: Personal Information → "?" → "here" → the dialog →
// "Save & Get Code" → code → "Verify"; the same by keyboard alone; a new number left pending,
// finished after signing in with the old one; and a pending number cancelled.
import { devices, expect, type Page } from "@playwright/test";
import {
  PASSWORD,
  codeFor,
  expectAccessible,
  hydrated,
  registerAndVerify,
  screenshot,
  test,
  textCount,
  uniqueMobile,
  uniqueUsername,
} from "./support";

// Pixel 7's screen, touch and user agent, in the same Chromium.
const { defaultBrowserType: _, ...pixel7 } = devices["Pixel 7"];
test.use(pixel7);

async function openPersonalInformation(page: Page) {
  await page.getByRole("link", { name: "Personal Information" }).click();
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole("heading", { name: "Personal Information" })).toBeVisible();
  await hydrated(page);
}

test("a patient changes their mobile number through the dialog", async ({ page, request }) => {
  const oldMobile = uniqueMobile();
  const newMobile = uniqueMobile();
  await registerAndVerify(page, request, { username: uniqueUsername("maria"), mobile: oldMobile });
  await openPersonalInformation(page);
  await expect(page.locator(".mobile-status")).toContainText("Verified");
  await expectAccessible(page);
  await screenshot(page, "1-personal-information");

  await page.getByRole("button", { name: "About your mobile number" }).click();
  await expect(page.getByText("We text a code to this number each time you sign in")).toBeVisible();
  await screenshot(page, "2-mobile-help");
  await page.getByRole("link", { name: "here" }).click();

  const dialog = page.getByRole("dialog", { name: "Change your mobile number" });
  await expect(dialog).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, "3-dialog");

  // A landline is refused inside the dialog, as at registration.
  await dialog.getByLabel("Mobile number").fill("04 471 1234");
  await dialog.getByRole("button", { name: "Save & Get Code" }).click();
  await expect(dialog.locator("#new-mobile-error")).toHaveText(
    "Please enter a mobile number; landlines can't receive text messages",
  );

  await dialog.getByLabel("Mobile number").fill(newMobile.typed);
  await dialog.getByRole("button", { name: "Save & Get Code" }).click();
  await expect(dialog.getByRole("status")).toContainText(`ending ${newMobile.e164.slice(-2)}`);
  const code = await codeFor(request, newMobile.e164);
  // The old number was told, and still gets the sign-in codes until the new one is verified.
  const notices = await (await request.get("/dev/sms")).json();
  expect(
    notices.some(
      (m: { to: string; body: string }) => m.to === oldMobile.e164 && m.body.includes("Codes come here until it's verified"),
    ),
  ).toBe(true);

  const codeField = dialog.getByLabel("Verification code");
  await expect(codeField).toHaveAttribute("autocomplete", "one-time-code");
  await codeField.fill(code === "000000" ? "111111" : "000000");
  await dialog.getByRole("button", { name: "Verify" }).click();
  await expect(dialog.locator("#new-code-error")).toContainText("4 tries left");
  await expectAccessible(page);
  await screenshot(page, "4-dialog-wrong-code");

  await codeField.fill(code);
  await dialog.getByRole("button", { name: "Verify" }).click();
  await expect(dialog).toBeHidden();
  await expect(page.getByRole("status").first()).toContainText("is verified");
  const row = page.locator(".mobile-status");
  await expect(row).toContainText(newMobile.typed);
  await expect(row).toContainText("Verified");
  await expectAccessible(page);
  await screenshot(page, "5-new-number-verified");
});

test("the mobile help and dialog work by keyboard alone", async ({ page, request }) => {
  await registerAndVerify(page, request, { username: uniqueUsername("kim"), mobile: uniqueMobile() });
  await page.goto("/profile");
  await hydrated(page);

  const help = page.getByRole("button", { name: "About your mobile number" });
  for (let i = 0; i < 30 && !(await help.evaluate((el) => el === document.activeElement)); i++) {
    await page.keyboard.press("Tab");
  }
  await expect(help).toBeFocused();
  await page.keyboard.press("Enter");
  await expect(help).toHaveAttribute("aria-expanded", "true");
  const here = page.getByRole("link", { name: "here" });
  await page.keyboard.press("Tab");
  await expect(here).toBeFocused();
  await page.keyboard.press("Enter");

  const dialog = page.getByRole("dialog", { name: "Change your mobile number" });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByLabel("Mobile number")).toBeFocused();
  // Tab and Shift+Tab stay inside the dialog.
  for (const key of ["Tab", "Tab", "Tab", "Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab", "Shift+Tab"]) {
    await page.keyboard.press(key);
    expect(await dialog.evaluate((el) => el.contains(document.activeElement))).toBe(true);
  }
  await expectAccessible(page);
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(here).toBeFocused();
});

test("a pending number is verified after signing in with the old one", async ({ page, request }) => {
  const username = uniqueUsername("abe");
  const oldMobile = uniqueMobile();
  const newMobile = uniqueMobile();
  await registerAndVerify(page, request, { username, mobile: oldMobile, givenName: "Abe" });
  await openPersonalInformation(page);
  await page.getByRole("button", { name: "About your mobile number" }).click();
  await page.getByRole("link", { name: "here" }).click();
  const dialog = page.getByRole("dialog", { name: "Change your mobile number" });
  await dialog.getByLabel("Mobile number").fill(newMobile.typed);
  await dialog.getByRole("button", { name: "Save & Get Code" }).click();
  await expect(dialog.getByRole("status")).toContainText("We saved your new number");
  await dialog.getByRole("button", { name: "Close" }).click();
  await expect(dialog).toBeHidden();

  // The verified number stays; the new one waits apart, and the page says so.
  await expect(page.locator(".mobile-status").first()).toContainText(oldMobile.typed);
  await expect(page.locator(".mobile-status").first()).toContainText("Verified");
  const pendingRow = page.locator(".pending-mobile");
  await expect(pendingRow).toContainText(newMobile.typed);
  await expect(pendingRow).toContainText("Not verified");
  await expect(page.getByRole("link", { name: "Verify this number" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Cancel this change" })).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, "1-saved-pending");

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);
  const seenOld = await textCount(request, oldMobile.e164);
  const seenNew = await textCount(request, newMobile.e164);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();

  // The sign-in code goes to the verified (old) number, never the pending one.
  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByRole("status")).toContainText(`ending ${oldMobile.e164.slice(-2)}`);
  await expect(page.getByLabel("Mobile number")).toHaveCount(0);
  const signInCode = await codeFor(request, oldMobile.e164, seenOld);
  expect(await textCount(request, newMobile.e164)).toBe(seenNew);
  await hydrated(page);
  await page.getByLabel("Verification code").fill(signInCode);
  await page.getByRole("button", { name: "Verify" }).click();

  // Signed in, the patient is asked to finish the change.
  await expect(page.getByRole("heading", { name: "Welcome, Abe" })).toBeVisible();
  const card = page.getByRole("region", { name: "Finish changing your mobile number" });
  await expect(card).toBeVisible();
  await expect(card).toContainText(newMobile.typed);
  await hydrated(page);
  await expectAccessible(page);
  await screenshot(page, "2-asked-to-finish");
  await card.getByRole("button", { name: "Send Code" }).click();
  await expect(card.getByRole("status")).toContainText(`ending ${newMobile.e164.slice(-2)}`);
  const code = await codeFor(request, newMobile.e164, seenNew);
  await card.getByLabel("Verification code").fill(code);
  await card.getByRole("button", { name: "Verify" }).click();

  await expect(card).toBeHidden();
  await expect(page.getByRole("status").first()).toContainText("is verified");
  await expect(page.locator(".mobile-status")).toContainText(newMobile.typed);
  await expect(page.locator(".mobile-status")).toContainText("Verified");
  await expectAccessible(page);
  await screenshot(page, "3-new-number-verified");
});

test("a pending number can be cancelled, and the verified one stays", async ({ page, request }) => {
  const oldMobile = uniqueMobile();
  const newMobile = uniqueMobile();
  await registerAndVerify(page, request, { username: uniqueUsername("cal"), mobile: oldMobile });
  await openPersonalInformation(page);
  await page.getByRole("button", { name: "About your mobile number" }).click();
  await page.getByRole("link", { name: "here" }).click();
  const dialog = page.getByRole("dialog", { name: "Change your mobile number" });
  await dialog.getByLabel("Mobile number").fill(newMobile.typed);
  await dialog.getByRole("button", { name: "Save & Get Code" }).click();
  await expect(dialog.getByRole("status")).toContainText("We saved your new number");
  await dialog.getByRole("button", { name: "Close" }).click();

  await page.getByRole("button", { name: "Cancel this change" }).click();
  await expect(page.getByRole("status").first()).toContainText("The change is cancelled");
  await expect(page.locator(".pending-mobile")).toHaveCount(0);
  await expect(page.locator(".mobile-status")).toContainText(oldMobile.typed);
  await expect(page.locator(".mobile-status")).toContainText("Verified");
  await expectAccessible(page);
  await screenshot(page, "cancelled");
});
