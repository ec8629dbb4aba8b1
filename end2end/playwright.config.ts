import { defineConfig, devices } from "@playwright/test";
import path from "node:path";

// The portal under test runs from the debug build (`cargo leptos build`) on its own port, with a
// fresh database and the console SMS provider, whose outbox the tests read codes from.
const root = path.resolve(__dirname, "..");
const port = Number(process.env.PORTAL_E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;
const dataDir = path.join(root, "target", "e2e-data");

// Debian's Chromium, without the background services that this machine's closed network refuses.
const chromium = {
  executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
  args: [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
  ],
};

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  forbidOnly: true,
  reporter: [["list"], ["html", { open: "never" }]],
  outputDir: "test-results",
  use: {
    baseURL,
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: { ...devices["Desktop Chrome"], launchOptions: chromium },
    },
  ],
  webServer: {
    command: `rm -rf "${dataDir}" && "${path.join(root, "target", "debug", "server")}"`,
    url: `${baseURL}/healthz`,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      LEPTOS_OUTPUT_NAME: "portal",
      LEPTOS_SITE_ROOT: path.join(root, "target", "site"),
      LEPTOS_SITE_PKG_DIR: "pkg",
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_RELOAD_PORT: String(port + 1),
      PORTAL_DATABASE_URL: `sqlite://${dataDir}/portal.db`,
      PORTAL_DATA_DIR: dataDir,
      PORTAL_PUBLIC_URL: baseURL,
      PORTAL_PRACTICE_NAME: "Harbour Health",
      PORTAL_SUPPORT_PHONE: "0800 427 287",
      PORTAL_SUPPORT_EMAIL: "help@harbourhealth.example",
      RUST_LOG: "warn",
    },
  },
});
