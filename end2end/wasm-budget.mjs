// What a patient's phone downloads to run the portal: the wasm and JS, gzip -9, as Chromium
// fetches them for a first visit to /login and /register, and for each island (the parts of a
// page that run in the browser) from the build's split manifest. Serve a release build first
// (`bash .ci/serve`), then: `npm run wasm-budget`. Fails if a first visit passes its budget.
import { chromium } from "@playwright/test";
import { gzipSync } from "node:zlib";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";

const base = process.env.PORTAL_URL ?? "http://127.0.0.1:3000";
const pkg = path.resolve(import.meta.dirname, "..", "target", "site", "pkg");
const BUDGET = 200 * 1024;

const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
const gzipped = (bytes) => gzipSync(bytes, { level: 9 }).length;
const isCode = (name) => /\.(wasm|js)$/.test(name);

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium" });
let over = false;
try {
  for (const page of ["/login", "/register"]) {
    const tab = await browser.newPage();
    const files = new Map();
    tab.on("response", async (response) => {
      const name = new URL(response.url()).pathname;
      if (isCode(name)) files.set(name, response.body());
    });
    await tab.goto(`${base}${page}`);
    await tab.waitForSelector("body[data-hydrated=true]");
    // Islands wake once the browser is idle; give stragglers a moment.
    await tab.waitForLoadState("networkidle");
    let total = 0;
    for (const [name, body] of files) {
      const size = gzipped(await body);
      total += size;
      console.log(`  ${page}: ${path.basename(name)} ${kb(size)}`);
    }
    const mark = total > BUDGET ? ` (over the budget of ${kb(BUDGET)})` : "";
    over ||= total > BUDGET;
    console.log(`${page}, first visit: ${kb(total)} of wasm and JS, gzip -9${mark}`);
    await tab.close();
  }
} finally {
  await browser.close();
}

// Every island's own chunks, on top of what every page loads.
const names = readdirSync(pkg).filter(isCode);
const size = (name) => gzipped(readFileSync(path.join(pkg, name)));
const manifestName = readdirSync(pkg).find((n) => n.startsWith("__wasm_split_manifest"));
const manifest = JSON.parse(readFileSync(path.join(pkg, manifestName), "utf8"));
for (const [loader, chunks] of Object.entries(manifest).sort()) {
  const own = names.filter((n) => n.startsWith(`split_${loader}.`));
  const extra = [...chunks.map((c) => `${c}.wasm`), ...own].reduce((sum, n) => sum + size(n), 0);
  console.log(`island ${loader.replace(/_loader_\d+$/, "")}: ${kb(extra)} more when its page opens`);
}
const everything = names.reduce((sum, n) => sum + size(n), 0);
console.log(`all the portal's wasm and JS: ${kb(everything)}, gzip -9`);
process.exit(over ? 1 : 0);
