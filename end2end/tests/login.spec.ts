// Seed flow 2: logging in with a verified mobile (the code comes at once) and without one (the
// patient gives a number, gets a code and verifies it), plus the generic wrong-password answer.
import { expect } from "@playwright/test";
import {
  PASSWORD,
  codeFor,
  expectAccessible,
  hydrated,
  importPatients,
  registerAndVerify,
  screenshot,
  test,
  textCount,
  uniqueMobile,
  uniqueUsername,
} from "./support";

test("a registered patient logs out, logs in, gets the code without asking, and is signed in", async ({
  page,
  request,
}) => {
  const mobile = uniqueMobile();
  const username = uniqueUsername("margaret");
  await registerAndVerify(page, request, { username, mobile });

  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);
  await expect(page.getByRole("heading", { name: "Log in" })).toBeVisible();
  await expectAccessible(page);
  await screenshot(page, "1-login");

  // Signed-out visitors to the home page are sent here.
  await page.goto("/");
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);

  const seen = await textCount(request, mobile.e164);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();

  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByRole("status")).toContainText(
    `We sent a code to your mobile ending ${mobile.e164.slice(-2)}`,
  );
  const code = await codeFor(request, mobile.e164, seen);
  await hydrated(page);
  await expectAccessible(page);
  await screenshot(page, "2-verify-code-sent");

  await page.getByLabel("Verification code").fill(code);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page).toHaveURL(/\/$/);
  await expect(page.getByRole("heading", { name: "Welcome, Margaret" })).toBeVisible();
  await expect(page.getByText("Verified", { exact: true })).toBeVisible();
  await screenshot(page, "3-signed-in-again");
});

test("the login page's script, wasm and styles are named by their content, compressed, and kept for a year", async ({
  page,
  request,
}) => {
  await page.goto("/login");
  await hydrated(page);
  const files = await page.evaluate(() =>
    [
      ...Array.from(document.querySelectorAll<HTMLLinkElement>("link[rel=stylesheet], link[rel=modulepreload], link[rel=preload]")).map(
        (l) => l.href,
      ),
    ].filter((href) => href.includes("/pkg/")),
  );
  expect(files.length).toBeGreaterThanOrEqual(3);
  for (const file of files) {
    // A hash of the content in the name: a new release has new names.
    expect(file).toMatch(/\/pkg\/portal\.[A-Za-z0-9_-]{16,}(_bg)?\.(js|wasm|css)$/);
    // Compressed once at start-up, in the background: served from memory when it is done.
    await expect
      .poll(async () => (await request.get(file, { headers: { "accept-encoding": "br" } })).headers()["cache-control"])
      .toBe("public, max-age=31536000, immutable");
    const reply = await request.get(file, { headers: { "accept-encoding": "br" } });
    expect(reply.headers()["content-encoding"]).toBe("br");
  }
});

test("a wrong password shows one generic message", async ({ page }) => {
  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Username").fill(uniqueUsername("nobody"));
  await page.getByLabel("Password").fill("not the password at all");
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("alert")).toHaveText(
    "That username and password don't match. Please check them and try again.",
  );
  await expect(page).toHaveURL(/\/login$/);
  await expect(page.getByLabel("Username")).not.toHaveValue("");
  await expectAccessible(page);
  await screenshot(page, "wrong-password");
});

test("an imported patient with a landline on file verifies a mobile at login", async ({ page, request }) => {
  const username = uniqueUsername("arthur");
  const mobile = uniqueMobile();
  const oneTimePassword = "practice gave me this";
  const output = importPatients([`${username},Arthur,Jones,1942-03-04,04 471 1234,,${oneTimePassword}`]);
  expect(output).toContain("imported 1 patient(s)");

  await page.goto("/login");
  await hydrated(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(oneTimePassword);
  await page.getByRole("button", { name: "Log in" }).click();

  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByRole("heading", { name: "Verify your mobile number" })).toBeVisible();
  const number = page.getByLabel("Mobile number");
  await expect(number).toHaveValue("04 471 1234");
  await hydrated(page);
  await expectAccessible(page);
  await screenshot(page, "1-needs-number");

  // The landline on file is refused, with the registration message.
  await page.getByRole("button", { name: "Get Code" }).click();
  await expect(page.locator("#mobile-error")).toHaveText(
    "Please enter a mobile number; landlines can't receive text messages",
  );
  await expectAccessible(page);
  await screenshot(page, "2-landline-refused");

  await number.fill(mobile.typed);
  await page.getByRole("button", { name: "Get Code" }).click();
  await expect(page.getByRole("status")).toContainText("We sent a code");
  const code = await codeFor(request, mobile.e164);
  await page.getByLabel("Verification code").fill(code);
  await page.getByRole("button", { name: "Verify" }).click();

  // A one-time password from the practice is replaced first.
  await expect(page.getByRole("heading", { name: "Choose your password" })).toBeVisible();
  await hydrated(page);
  await expectAccessible(page);
  await page.getByLabel("One-time password from the practice").fill(oneTimePassword);
  await page.getByLabel("Password", { exact: true }).fill("my very own phrase");
  await page.getByLabel("Confirm password").fill("my very own phrase");
  await page.getByRole("button", { name: "Save password" }).click();

  await expect(page.getByRole("heading", { name: "Welcome, Arthur" })).toBeVisible();
  const mobileRow = page.locator(".mobile-status");
  await expect(mobileRow).toContainText(mobile.typed);
  await expect(mobileRow).toContainText("Verified");
  await screenshot(page, "3-verified");
});

test("an idle page warns a minute before signing out, and signs out at the end", async ({ page, request }) => {
  await page.clock.install();
  await registerAndVerify(page, request, { username: uniqueUsername("idle"), mobile: uniqueMobile() });

  await page.clock.fastForward("13:30");
  await expect(page.getByRole("alert")).toHaveCount(0);
  await page.clock.fastForward("00:35");
  const warning = page.getByRole("alert");
  await expect(warning).toContainText("you'll be signed out in");
  await expectAccessible(page);
  await screenshot(page, "idle-warning");

  await page.getByRole("button", { name: "Stay signed in" }).click();
  await expect(warning).toHaveCount(0);

  await page.clock.fastForward("15:05");
  await expect(page).toHaveURL(/\/login\?timeout=1$/);
  await expect(page.getByRole("status")).toContainText("signed out because you had been inactive");
});
