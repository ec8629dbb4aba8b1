import { defineConfig, devices } from "@playwright/test";
import {
  carefulPractice,
  main,
  onPostgres,
  passkeys,
  postgresServer,
  practiceSettings,
  secondProvider,
  serverBinary,
  type Portal,
} from "./portal-env";

// The portals under test run from the debug build (`cargo leptos build`), each on its own port
// with a fresh database.

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

function server(portal: Portal, prepare = "") {
  return {
    command: `${prepare}rm -rf "${portal.dataDir}" && "${serverBinary}"`,
    url: portal.readyURL,
    reuseExistingServer: false,
    timeout: 120_000,
    stdout: "ignore" as const,
    stderr: "pipe" as const,
    env: portal.env,
  };
}

export default defineConfig({
  testDir: "./tests",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  workers: 2,
  // A journey that fails has a cause to find: none is run again.
  retries: 0,
  forbidOnly: true,
  reporter: [["list"], ["html", { open: "never" }]],
  outputDir: "test-results",
  use: {
    trace: "retain-on-failure",
    screenshot: "only-on-failure",
  },
  projects: [
    {
      name: "chromium",
      testIgnore: /(careful-practice|settings|passkeys|second-provider)\.spec\.ts/,
      use: { ...devices["Desktop Chrome"], launchOptions: chromium, baseURL: main.baseURL },
    },
    {
      name: "practice-settings",
      testMatch: /settings\.spec\.ts/,
      use: { ...devices["Desktop Chrome"], launchOptions: chromium, baseURL: practiceSettings.baseURL },
    },
    ...(onPostgres
      ? [
          {
            name: "postgres",
            testMatch: /registration\.spec\.ts/,
            use: { ...devices["Desktop Chrome"], launchOptions: chromium, baseURL: onPostgres.baseURL },
          },
        ]
      : []),
    {
      name: "passkeys",
      testMatch: /passkeys\.spec\.ts/,
      use: { ...devices["Desktop Chrome"], launchOptions: chromium, baseURL: passkeys.baseURL },
    },
    {
      name: "second-provider",
      testMatch: /second-provider\.spec\.ts/,
      use: { ...devices["Desktop Chrome"], launchOptions: chromium, baseURL: secondProvider.baseURL },
    },
    {
      name: "careful-practice",
      testMatch: /careful-practice\.spec\.ts/,
      use: { ...devices["Desktop Chrome"], launchOptions: chromium, baseURL: carefulPractice.baseURL },
    },
  ],
  webServer: [
    server(main),
    server(carefulPractice),
    server(practiceSettings),
    server(passkeys),
    server(secondProvider),
    // A fresh database for each run on the PostgreSQL server .ci/test started.
    ...(onPostgres
      ? [
          server(
            onPostgres,
            `psql -q "${postgresServer}/postgres" -c "DROP DATABASE IF EXISTS portal_e2e" && ` +
              `psql -q "${postgresServer}/postgres" -c "CREATE DATABASE portal_e2e" && `,
          ),
        ]
      : []),
  ],
});
