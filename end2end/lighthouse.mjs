// Lighthouse (mobile: a mid-range phone on a slow 4G connection) on the pages a patient meets
// first. Serve a release build first (`bash .ci/serve`), then: `npm run lighthouse`.
// Scores are reported, not asserted: they vary with the machine.
import * as chromeLauncher from "chrome-launcher";
import lighthouse from "lighthouse";

const base = process.env.PORTAL_URL ?? "http://127.0.0.1:3000";
const pages = ["/login", "/register"];
const categories = ["performance", "accessibility", "best-practices"];
const budget = { performance: 0.95, accessibility: 1, "best-practices": 1 };

const chrome = await chromeLauncher.launch({
  chromePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  chromeFlags: ["--headless=new", "--no-sandbox"],
});
try {
  for (const page of pages) {
    const { lhr } = await lighthouse(`${base}${page}`, {
      port: chrome.port,
      onlyCategories: categories,
      logLevel: "error",
    });
    const scores = categories
      .map((c) => {
        const score = lhr.categories[c].score;
        const mark = score >= budget[c] ? "" : ` (budget ${budget[c]})`;
        return `${c} ${score}${mark}`;
      })
      .join(", ");
    const metric = (id) => lhr.audits[id].displayValue;
    console.log(`${page}: ${scores}`);
    // What kept a category below 1, so there is something to act on.
    for (const c of categories) {
      for (const ref of lhr.categories[c].auditRefs) {
        const audit = lhr.audits[ref.id];
        if (ref.weight > 0 && audit.score !== null && audit.score < 1) {
          console.log(`  ${c}: ${audit.title} (${audit.displayValue ?? audit.score})`);
        }
      }
    }
    console.log(
      `  first paint ${metric("first-contentful-paint")}, largest paint ` +
        `${metric("largest-contentful-paint")}, interactive ${metric("interactive")}, ` +
        `blocking ${metric("total-blocking-time")}, layout shift ${metric("cumulative-layout-shift")}`,
    );
  }
} finally {
  await chrome.kill();
}
