// What every journey needs: fresh patients, logging in and out, codes from the dev SMS outbox,
// accessibility checks and screenshots.
import { test as base, expect, type APIRequestContext, type Page } from "@playwright/test";
import AxeBuilder from "@axe-core/playwright";
import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { serverBinary, serverEnv } from "../portal-env";

export const PASSWORD = "correct horse battery staple";

/** Every journey fails if a page throws: a panic in the wasm (a hydration mismatch, say) can
 * leave a page that looks right but no longer reacts. */
export const test = base.extend<{ noPageErrors: void }>({
  noPageErrors: [
    async ({ page }, use) => {
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(error.message));
      page.on("console", (message) => {
        if (message.type() === "error" && message.text().includes("panicked")) {
          errors.push(message.text());
        }
      });
      await use();
      expect(errors, "errors raised by the page").toEqual([]);
    },
    { auto: true },
  ],
});

let counter = 0;

/** A username nobody else in this run has. */
export function uniqueUsername(prefix = "patient"): string {
  counter += 1;
  return `${prefix}${Date.now().toString(36)}${counter}${test.info().workerIndex}`;
}

/** A New Zealand mobile number (021 + 7 digits) nobody else in this run has, typed the way the
 * portal shows it back (021 2xx xxxx: numbers like 0210… are written differently). */
export function uniqueMobile(): { typed: string; e164: string } {
  const digits = String(2_000_000 + Math.floor(Math.random() * 8_000_000));
  return { typed: `021 ${digits.slice(0, 3)} ${digits.slice(3)}`, e164: `+6421${digits}` };
}

/** Waits until the page has hydrated and reacts to clicks. */
export async function hydrated(page: Page): Promise<void> {
  await page.waitForSelector("body[data-hydrated=true]");
}

type Sms = { to: string; body: string; sent_at: string };

/** Fills the login page's password step and presses "Log in". */
export async function logIn(page: Page, username: string, password = PASSWORD): Promise<void> {
  if (!/\/login$/.test(page.url())) {
    await page.goto("/login");
  }
  await hydrated(page);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
}

/** Presses "Log out" and waits for the login page to wake. */
export async function logOut(page: Page): Promise<void> {
  await page.getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await hydrated(page);
}

async function texts(request: APIRequestContext): Promise<Sms[]> {
  const response = await request.get("/dev/sms");
  expect(response.ok()).toBeTruthy();
  return response.json();
}

/** The newest "This wasn't me" link texted to `e164`. */
export async function wasntMeLink(request: APIRequestContext, e164: string): Promise<string> {
  const notices = (await texts(request)).filter((m) => m.to === e164 && m.body.includes("Not you? http"));
  expect(notices.length).toBeGreaterThan(0);
  return notices[notices.length - 1].body.split("Not you? ")[1].trim();
}

/** How many texts `e164` has received so far. */
export async function textCount(request: APIRequestContext, e164: string): Promise<number> {
  return (await texts(request)).filter((m) => m.to === e164).length;
}

/** The code in the next text to `e164` after the first `seen` texts to it. */
export async function codeFor(request: APIRequestContext, e164: string, seen = 0): Promise<string> {
  let message: Sms | undefined;
  await expect
    .poll(async () => {
      message = (await texts(request)).filter((m) => m.to === e164)[seen];
      return message !== undefined;
    })
    .toBe(true);
  const match = message!.body.match(/#(\d{6})$/);
  expect(match, message!.body).not.toBeNull();
  return match![1];
}

/** No serious or critical accessibility violations on the page as it is now. */
export async function expectAccessible(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).analyze();
  const serious = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  expect(
    serious.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`),
  ).toEqual([]);
}

/** The same check for a page shown with scripts off (where axe itself can't run): its HTML as
 * the browser has it, checked in a page of its own that runs axe but none of the portal's
 * scripts. */
export async function expectAccessibleWithoutScripts(page: Page): Promise<void> {
  const html = await page.content();
  const url = page.url();
  const context = await page.context().browser()!.newContext({ javaScriptEnabled: true });
  try {
    const checker = await context.newPage();
    await checker.route("**/*", (route) => {
      const wanted = route.request().url();
      if (wanted === url) return route.fulfill({ body: html, contentType: "text/html" });
      if (/\.(js|wasm)(\?|$)/.test(wanted)) return route.abort();
      return route.continue();
    });
    await checker.goto(url);
    await expectAccessible(checker);
  } finally {
    await context.close();
  }
}

/** A full-page screenshot in the test's output folder. */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: test.info().outputPath(`${name}.png`), fullPage: true });
}

/** Brings patients in as a practice would: `server import-patients` on a CSV file (into the main
 * portal unless another portal's environment is given). */
export function importPatients(rows: string[], env: Record<string, string> = serverEnv): string {
  const dir = mkdtempSync(path.join(tmpdir(), "portal-import-"));
  const file = path.join(dir, "patients.csv");
  const header = "username,given_name,family_name,date_of_birth,phone,password_hash,one_time_password";
  writeFileSync(file, [header, ...rows].join("\n") + "\n");
  return execFileSync(serverBinary, ["import-patients", file], {
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
}

/** Registers through the form and verifies the number: a signed-in patient on the home page. */
export async function registerAndVerify(
  page: Page,
  request: APIRequestContext,
  who: { username: string; mobile: { typed: string; e164: string }; givenName?: string },
): Promise<void> {
  await page.goto("/register");
  await hydrated(page);
  await page.getByLabel("Given name").fill(who.givenName ?? "Margaret");
  await page.getByLabel("Family name").fill("Smith");
  await page.getByLabel("Date of birth").fill("1950-07-31");
  await page.getByLabel("Mobile number").fill(who.mobile.typed);
  await page.getByLabel("Username").fill(who.username);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm password").fill(PASSWORD);
  await page.getByRole("button", { name: "Register" }).click();
  await expect(page).toHaveURL(/\/verify$/);
  await hydrated(page);
  const seen = await textCount(request, who.mobile.e164);
  await page.getByRole("button", { name: "Send Code" }).click();
  const code = await codeFor(request, who.mobile.e164, seen);
  await page.getByLabel("Verification code").fill(code);
  await page.getByRole("button", { name: "Verify" }).click();
  await expect(page.getByRole("button", { name: "Log out" })).toBeVisible();
}

/** Adds a staff member as the practice's operator would (`server staff add`); returns the
 * enrolment link it prints. */
export function addStaff(name: string, role: "support" | "admin", env: Record<string, string> = serverEnv): string {
  const output = execFileSync(serverBinary, ["staff", "add", name, "--role", role], {
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  const link = output.split("\n").find((line) => line.includes("/staff/enrol?token="));
  expect(link, output).toBeTruthy();
  return link!.trim();
}

/** The authenticator's time step now (30 s each). */
export function currentStep(): number {
  return Math.floor(Date.now() / 1000 / 30);
}

/** The code an authenticator app shows for a base32 secret (RFC 6238: HMAC-SHA1, 30 s, 6 digits)
 * at time step `step` (now, by default). */
export function authenticatorCode(secret: string, step = currentStep()): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of secret.replace(/\s+/g, "").toUpperCase()) {
    bits += alphabet.indexOf(char).toString(2).padStart(5, "0");
  }
  const key = Buffer.from(bits.match(/.{8}/g)!.map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, "0");
}

export const STAFF_PASSWORD = "practice staff passphrase";

export type StaffMember = { name: string; secret: string; recoveryCodes: string[]; usedStep: number };

/** Follows an enrolment link as a new staff member: password, secret read off the page, first code. */
export async function enrolStaff(page: Page, name: string, link: string): Promise<StaffMember> {
  await page.goto(link);
  await expect(page.getByRole("heading", { name: "Set up your staff account" })).toBeVisible();
  await hydrated(page);
  await page.getByLabel("Password", { exact: true }).fill(STAFF_PASSWORD);
  await page.getByLabel("Confirm password").fill(STAFF_PASSWORD);
  const secret = (await page.locator("code.secret").textContent())!.trim();
  const step = currentStep();
  await page.getByLabel("Authenticator code").fill(authenticatorCode(secret, step));
  await page.getByRole("button", { name: "Finish enrolment" }).click();
  await expect(page.getByRole("heading", { name: "Your recovery codes" })).toBeVisible();
  const recoveryCodes = await page.locator(".recovery-codes code").allTextContents();
  return { name, secret, recoveryCodes, usedStep: step };
}

/** Signs a staff member in. A code works once, so each sign-in uses a later time step than the
 * last: the portal accepts the next step too, as from a phone whose clock runs a little fast. */
export async function staffLogin(page: Page, staff: StaffMember): Promise<void> {
  await page.goto("/staff/login");
  await hydrated(page);
  await page.getByLabel("Username").fill(staff.name);
  await page.getByLabel("Password").fill(STAFF_PASSWORD);
  await expect.poll(() => currentStep() + 1 > staff.usedStep, { timeout: 40_000 }).toBe(true);
  const step = Math.max(currentStep(), staff.usedStep + 1);
  staff.usedStep = step;
  await page.getByLabel("Authenticator code").fill(authenticatorCode(staff.secret, step));
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("navigation", { name: "Staff" })).toBeVisible();
  await hydrated(page);
}

/** A page whose CPU runs six times slower than this machine's, and whose islands stay asleep
 * (their wasm held back) until the returned function wakes them. */
export async function slowPhone(page: Page): Promise<() => void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send("Emulation.setCPUThrottlingRate", { rate: 6 });
  let wake!: () => void;
  const woken = new Promise<void>((resolve) => (wake = resolve));
  await page.route(/\/pkg\/(chunk_|split_).*\.wasm$/, async (route) => {
    await woken;
    await route.continue();
  });
  return wake;
}

/** A staff member enrolled and signed in, in `page`. */
export async function supportMember(page: Page, role: "support" | "admin" = "support"): Promise<StaffMember> {
  const name = uniqueUsername("staff");
  const staff = await enrolStaff(page, name, addStaff(name, role));
  await staffLogin(page, staff);
  return staff;
}

/** Searches for the patient and opens their page. */
export async function openPatient(page: Page, username: string) {
  // The search page may be open already: a second, in-place load of it could land after the
  // search is typed and sent.
  if (!/\/staff$/.test(page.url())) {
    await page.getByRole("link", { name: "Search patients" }).click();
    // The address changes once the page has been put in place.
    await expect(page).toHaveURL(/\/staff$/);
  }
  await hydrated(page);
  await page.getByLabel("Search patients").fill(username);
  await page.getByRole("button", { name: "Search" }).click();
  const result = page.locator(".patient-list li").filter({ hasText: username });
  await expect(result).toHaveCount(1);
  await expectAccessible(page);
  await result.getByRole("link").click();
  await expect(page).toHaveURL(/\/staff\/patients\//);
  await hydrated(page);
}

/** Chooses a support action, types the reason and confirms it. */
export async function act(page: Page, action: string, reason: string) {
  await page.getByRole("button", { name: action, exact: true }).click();
  const form = page.locator("form.confirm-action");
  await expect(form.getByRole("heading", { name: action })).toBeVisible();
  // The actions that could hand the account over ask how support checked it's the patient.
  if (action === "Reset mobile number" || action === "Issue one-time password") {
    const question = form.getByRole("group", { name: "How did you check it's the patient?" });
    await question.getByLabel("Called back a number on the practice's records").check();
  }
  await form.getByLabel("Reason", { exact: true }).fill(reason);
  // The actions that give an account a new start offer to take its passkeys too, ticked.
  if (action === "End all sessions" || action === "Issue one-time password") {
    await expect(form.getByLabel("Also remove passkeys")).toBeChecked();
  }
  if (action !== "Unlock") {
    await screenshot(page, `action-${action.toLowerCase().replace(/ /g, "-")}`);
  }
  await expectAccessible(page);
  await form.getByRole("button", { name: "Confirm" }).click();
  await expect(form).toHaveCount(0);
}
