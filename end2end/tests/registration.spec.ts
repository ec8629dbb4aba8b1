// Seed flow 1: a new patient registers, verifies their mobile with a texted code, and is signed in.
import { expect } from "@playwright/test";
import {
  PASSWORD,
  codeFor,
  expectAccessible,
  hydrated,
  screenshot,
  test,
  uniqueMobile,
  uniqueUsername,
} from "./support";

test("a new patient registers, verifies their mobile by text and is signed in", async ({ page, request }) => {
  const mobile = uniqueMobile();
  const username = uniqueUsername("margaret");

  await page.goto("/register");
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Create your account" })).toBeVisible();
  await expect(page.getByRole("banner")).toContainText("Harbour Health");
  await expect(page.getByRole("contentinfo")).toContainText("0800 427 287");
  await expectAccessible(page);
  await screenshot(page, "1-register");

  await page.getByLabel("Given name").fill("Margaret");
  await page.getByLabel("Family name").fill("Smith");
  await page.getByLabel("Date of birth").fill("1950-07-31");
  await page.getByLabel("Email").fill("margaret@example.org");
  await page.getByLabel("Mobile number").fill("04 471 1234");
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm password").fill(PASSWORD);
  await page.getByRole("button", { name: "Register" }).click();

  // The landline is refused beside its field, announced, and nothing typed is lost.
  const mobileField = page.getByLabel("Mobile number");
  await expect(page.locator("#mobile-error")).toHaveText(
    "Please enter a mobile number; landlines can't receive text messages",
  );
  await expect(mobileField).toHaveAttribute("aria-invalid", "true");
  await expect(mobileField).toHaveAttribute("aria-describedby", /mobile-error/);
  await expect(page.getByRole("alert")).toContainText("Please check the highlighted details.");
  await expect(page.getByLabel("Given name")).toHaveValue("Margaret");
  await expect(page.getByLabel("Password", { exact: true })).toHaveValue(PASSWORD);
  await expect(page).toHaveURL(/\/register$/);
  await expectAccessible(page);
  await screenshot(page, "2-register-landline-refused");

  await mobileField.fill(mobile.typed);
  await page.getByRole("button", { name: "Register" }).click();

  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByRole("heading", { name: "Check your phone" })).toBeVisible();
  await expect(page.getByRole("status")).toContainText(`ending ${mobile.e164.slice(-2)}`);
  await hydrated(page);
  await expectAccessible(page);
  await screenshot(page, "3-verify-before-sending");

  await page.getByRole("button", { name: "Send Code" }).click();
  await expect(page.getByRole("status")).toContainText("We sent a code to your mobile ending");
  // The resend cooldown: the button waits and a countdown says for how long.
  await expect(page.getByRole("button", { name: "Send Code" })).toBeDisabled();
  await expect(page.getByText(/You can ask for a new code in \d+ seconds?\./)).toBeVisible();
  const code = await codeFor(request, mobile.e164);

  const codeField = page.getByLabel("Verification code");
  await expect(codeField).toHaveAttribute("autocomplete", "one-time-code");
  await expect(codeField).toHaveAttribute("inputmode", "numeric");
  const wrong = code === "000000" ? "111111" : "000000";
  await codeField.fill(wrong);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.locator("#code-error")).toContainText("That code isn't right");
  await expect(page.locator("#code-error")).toContainText("4 tries left");
  await expectAccessible(page);
  await screenshot(page, "4-verify-wrong-code");

  await codeField.fill(code);
  await page.getByRole("button", { name: "Verify" }).click();

  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { name: "Welcome, Margaret" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Log out" })).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, "5-signed-in");

  const me = await page.request.post("/api/me");
  expect(me.status()).toBe(200);
  expect(await me.json()).toMatchObject({ username, mobile: mobile.e164, mobile_verified: true });
});

test("the verify page sends signed-out visitors away", async ({ page }) => {
  await page.goto("/verify");
  await expect(page).not.toHaveURL(/\/verify$/);
});
