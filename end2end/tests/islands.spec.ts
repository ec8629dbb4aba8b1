// Pages come rendered from the server and only their islands (the parts that need scripts) load
// wasm. Moving between pages happens in place, without a reload, and a piece of wasm that
// fails to arrive leaves a page that still works, as it does with scripts off.
import { expect } from "@playwright/test";
import { PASSWORD, codeFor, hydrated, registerAndVerify, test, textCount, uniqueMobile, uniqueUsername } from "./support";

test("moving between the signed-in pages happens in place, without a reload", async ({ page, request }) => {
  await registerAndVerify(page, request, { username: uniqueUsername("spa"), mobile: uniqueMobile() });
  await hydrated(page);
  // Anything a page keeps in its window is lost on a reload.
  await page.evaluate(() => ((window as unknown as { portalStayed: boolean }).portalStayed = true));

  const nav = page.getByRole("navigation", { name: "Your account" });
  await nav.getByRole("link", { name: "Personal Information" }).click();
  await expect(page.getByRole("heading", { name: "Personal Information" })).toBeVisible();
  await expect(page).toHaveURL(/\/profile$/);
  // Announced as a new page: its title, and focus on its heading for a screen reader to read.
  await expect(page).toHaveTitle(/^Personal Information/);
  await expect(page.getByRole("heading", { level: 1, name: "Personal Information" })).toBeFocused();
  await expect(nav.getByRole("link", { name: "Personal Information" })).toHaveAttribute("aria-current", "page");
  await expect(nav.getByRole("link", { name: "Home" })).toHaveAttribute("aria-current", "false");

  await nav.getByRole("link", { name: "Home" }).click();
  await expect(page.getByRole("heading", { name: /^Welcome/ })).toBeVisible();
  await expect(page.getByRole("heading", { level: 1, name: /^Welcome/ })).toBeFocused();
  await expect(nav.getByRole("link", { name: "Home" })).toHaveAttribute("aria-current", "page");
  await expect(nav.getByRole("link", { name: "Personal Information" })).toHaveAttribute("aria-current", "false");

  // Back in the browser's history is in place too.
  await page.goBack();
  await expect(page.getByRole("heading", { name: "Personal Information" })).toBeVisible();
  await expect(page.getByRole("heading", { level: 1, name: "Personal Information" })).toBeFocused();
  expect(await page.evaluate(() => (window as unknown as { portalStayed?: boolean }).portalStayed)).toBe(true);
});

test("a code page whose wasm never arrives still signs the patient in", async ({ browser, request }) => {
  const setup = await browser.newPage();
  const mobile = uniqueMobile();
  const username = uniqueUsername("nochunk");
  await registerAndVerify(setup, request, { username, mobile });
  await setup.close();

  // A phone whose connection drops every piece of wasm that a page loads on top of the first.
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.route(/\/pkg\/(chunk_|split_).*\.wasm$/, (route) => route.abort());
  await page.goto("/login");
  await hydrated(page);
  const seen = await textCount(request, mobile.e164);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page).toHaveURL(/\/verify$/);
  await expect(page.getByRole("status")).toContainText(`ending ${mobile.e164.slice(-2)}`);
  const code = await codeFor(request, mobile.e164, seen);
  await page.getByLabel("Verification code").fill(code);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Margaret" })).toBeVisible();
  await expect(page).toHaveURL(/\/$/);
  // The rest of the app still runs: the home page's idle warning is awake.
  await hydrated(page);
  await context.close();
});
