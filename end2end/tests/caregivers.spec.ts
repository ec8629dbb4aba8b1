// Caregivers: support adds a child and its parent, who acts for the child under the banner and
// switches back; support adds a legal authority for an adult, who sees her on "Sign-in and
// security" and removes her, and her next request is refused. axe runs on each page, on a
// desktop and at 360 px.
import { expect, type Page } from "@playwright/test";
import {
  expectAccessible,
  hydrated,
  openPatient,
  registerAndVerify,
  screenshot,
  supportMember,
  test,
  uniqueMobile,
  uniqueUsername,
} from "./support";

/** axe on a desktop and on a 360 px phone, with a screenshot of each. */
async function checkedAtBothSizes(page: Page, name: string): Promise<void> {
  await expectAccessible(page);
  await screenshot(page, `${name}-desktop`);
  const size = page.viewportSize()!;
  await page.setViewportSize({ width: 360, height: 740 });
  await expectAccessible(page);
  await screenshot(page, `${name}-360`);
  await page.setViewportSize(size);
}

test("support adds a child and its parent acts for the child, then switches back", async ({ page, browser, request }) => {
  const mobile = uniqueMobile();
  const parent = uniqueUsername("mere");
  await registerAndVerify(page, request, { username: parent, mobile, givenName: "Mere" });

  const staffContext = await browser.newContext();
  const staff = await staffContext.newPage();
  await supportMember(staff);
  await openPatient(staff, parent);
  const care = staff.locator("#care");
  await expect(care.getByRole("heading", { name: "Caregivers", exact: true })).toBeVisible();
  await care.getByText("Add a child", { exact: true }).click();
  const form = care.locator("#add-child form");
  // A first try without the identity question: refused beside it, what was typed kept.
  await form.getByLabel("Child's given name").fill("Aroha");
  await form.getByLabel("Child's family name").fill("Ngata");
  await form.getByLabel("Child's date of birth").fill("2019-05-01");
  await form.getByLabel("Reason", { exact: true }).fill("parent came in with the birth certificate");
  await form.getByRole("button", { name: "Confirm" }).click();
  await expect(care.locator("#add-child form")).toContainText("Please say how you checked");
  await expect(care.locator("#add-child form").getByLabel("Child's given name")).toHaveValue("Aroha");
  await expectAccessible(staff);
  const again = care.locator("#add-child form");
  await again.getByRole("group", { name: "How did you check it's the patient?" }).getByLabel("Met in person with photo ID").check();
  await again.getByRole("button", { name: "Confirm" }).click();
  // The child's own page, which can't sign in.
  await expect(staff.getByRole("heading", { name: "Aroha Ngata", level: 1 })).toBeVisible();
  await expect(staff.locator("#care")).toContainText("The child's record is added");
  await expect(staff.locator("#care")).toContainText("it can't sign in");
  await expect(staff.locator("#care .caregivers")).toContainText("Mere Smith");
  await hydrated(staff);
  await checkedAtBothSizes(staff, "1-support-added-a-child");
  await staff.locator("#care").screenshot({ path: test.info().outputPath("1-the-caregivers-card.png") });
  await staffContext.close();

  // The parent: "Acting for" in the navigation, the child under it.
  await page.goto("/");
  await page.getByRole("link", { name: "Acting for" }).click();
  await expect(page.getByRole("heading", { name: "Acting for", level: 1 })).toBeVisible();
  await expect(page.getByRole("link", { name: "Yourself" })).toBeVisible();
  await checkedAtBothSizes(page, "2-acting-for");
  await page.getByRole("link", { name: "Aroha Ngata" }).click();
  const banner = page.getByRole("note").filter({ hasText: "You're acting for" });
  await expect(banner).toContainText("You're acting for Aroha Ngata");
  await expect(page.getByRole("heading", { name: "Aroha's home" })).toBeVisible();
  await expect(page.locator(".details")).toContainText("2019-05-01");
  await checkedAtBothSizes(page, "3-acting-for-aroha");
  await banner.getByRole("link", { name: "Switch back" }).click();
  await expect(page.getByRole("heading", { name: "Welcome, Mere" })).toBeVisible();
  await expect(page.getByText("You're acting for")).toHaveCount(0);
});

test("a legal authority acts for an adult, who removes her, and her next request is refused", async ({ page, browser, request }) => {
  const father = uniqueUsername("tane");
  await registerAndVerify(page, request, { username: father, mobile: uniqueMobile(), givenName: "Tane" });
  const daughterContext = await browser.newContext();
  const daughter = await daughterContext.newPage();
  const hine = uniqueUsername("hine");
  await registerAndVerify(daughter, request, { username: hine, mobile: uniqueMobile(), givenName: "Hine" });

  // Support finds the caregiver through "Add a caregiver" and the search.
  const staffContext = await browser.newContext();
  const staff = await staffContext.newPage();
  await supportMember(staff);
  await openPatient(staff, father);
  const care = staff.locator("#care");
  await care.getByText("Add a caregiver", { exact: true }).click();
  await care.getByLabel("Find the caregiver").fill(hine);
  await care.getByRole("button", { name: "Search" }).click();
  await expect(staff.locator(".patient-list li")).toHaveCount(1);
  await expectAccessible(staff);
  await staff.getByRole("link", { name: "Choose as caregiver" }).click();
  const form = staff.locator("#add-caregiver form");
  await expect(staff.locator("#add-caregiver")).toContainText("Caregiver: Hine Smith");
  await form.getByLabel("Legal authority").check();
  await form.getByLabel("Document").fill("Enduring power of attorney, seen 2026-12-01");
  await form.getByRole("group", { name: "How did you check it's the patient?" }).getByLabel("Met in person with photo ID").check();
  await form.getByLabel("Reason", { exact: true }).fill("EPOA activated");
  await checkedAtBothSizes(staff, "4-add-a-caregiver");
  await care.screenshot({ path: test.info().outputPath("4-the-caregivers-card.png") });
  await form.getByRole("button", { name: "Confirm" }).click();
  await expect(staff.locator("#care")).toContainText("The caregiver is added");
  await staffContext.close();

  // Hine acts for her father.
  await daughter.goto("/caring");
  await daughter.getByRole("link", { name: "Tane Smith" }).click();
  await expect(daughter.getByRole("note").filter({ hasText: "You're acting for" })).toContainText("Tane Smith");
  const actingAt = daughter.url();

  // He sees her, and her view, on "Sign-in and security", and removes her.
  await page.goto("/security");
  const caregivers = page.locator("#caregivers");
  await expect(caregivers).toContainText("Hine Smith");
  await expect(page.locator(".activity")).toContainText("Your caregiver Hine Smith viewed your Personal Information.");
  await checkedAtBothSizes(page, "5-his-caregivers");
  await caregivers.getByRole("button", { name: "Remove" }).click();
  await expect(page.locator("#caregivers")).toContainText("The caregiver is removed");
  await expect(page.locator("#caregivers")).toContainText("Nobody acts for you.");

  // Her next request is refused.
  await daughter.goto(actingAt);
  await expect(daughter.getByRole("alert")).toContainText("You can't act for this person now");
  await expect(daughter.getByText("You're acting for")).toHaveCount(0);
  await expectAccessible(daughter);
  await screenshot(daughter, "6-refused-after-removal");
  await daughterContext.close();
});

test("a father invites his daughter, she accepts and acts for him, he removes her, and her next request is refused", async ({ page, browser, request }) => {
  const father = uniqueUsername("tane");
  await registerAndVerify(page, request, { username: father, mobile: uniqueMobile(), givenName: "Tane" });
  const daughterContext = await browser.newContext();
  const daughter = await daughterContext.newPage();
  await registerAndVerify(daughter, request, { username: uniqueUsername("hine"), mobile: uniqueMobile(), givenName: "Hine" });

  // He has just proved it's him with a code: "Invite a caregiver" makes a code at once.
  await page.getByRole("link", { name: "Sign-in and security" }).click();
  await expect(page).toHaveURL(/\/security$/);
  const caregivers = page.locator("#caregivers");
  await caregivers.getByRole("button", { name: "Invite a caregiver" }).click();
  await expect(page.locator("#caregivers")).toContainText("Here is your invitation code");
  const code = (await page.locator("code.invitation-code").textContent())!.trim();
  expect(code).toMatch(/^[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}$/);
  await expect(page.getByRole("button", { name: "Someone is pressuring me to do this" })).toBeVisible();
  await checkedAtBothSizes(page, "7-his-invitation");
  await page.locator("#caregivers").screenshot({ path: test.info().outputPath("7-the-caregivers-section.png") });

  // She types it with his date of birth, and accepts.
  await daughter.goto("/caring");
  const accept = daughter.locator("#accept");
  await accept.getByLabel("Invitation code").fill(code.toLowerCase());
  await accept.getByLabel("Date of birth").fill("1950-07-30");
  await accept.getByRole("button", { name: "Accept" }).click();
  await expect(daughter.locator("#accept")).toContainText("4 tries left");
  await expectAccessible(daughter);
  await daughter.locator("#accept").getByLabel("Invitation code").fill(code);
  await daughter.locator("#accept").getByLabel("Date of birth").fill("1950-07-31");
  await daughter.locator("#accept").getByRole("button", { name: "Accept" }).click();
  await expect(daughter.getByText("The invitation is accepted")).toBeVisible();
  await checkedAtBothSizes(daughter, "8-accepted");
  await daughter.getByRole("link", { name: "Tane Smith" }).click();
  await expect(daughter.getByRole("note").filter({ hasText: "You're acting for" })).toContainText("Tane Smith");
  const actingAt = daughter.url();

  // He removes her; her next request is refused.
  await page.goto("/security");
  await expect(page.locator("#caregivers .caregivers")).toContainText("Hine Smith");
  await page.locator("#caregivers").getByRole("button", { name: "Remove" }).click();
  await expect(page.locator("#caregivers")).toContainText("The caregiver is removed");
  await daughter.goto(actingAt);
  await expect(daughter.getByRole("alert")).toContainText("You can't act for this person now");
  await daughterContext.close();
});
