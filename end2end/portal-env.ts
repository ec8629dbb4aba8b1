// Where the portals under test run and how they are configured; shared by the Playwright config
// (which starts them) and the tests (which run `server import-patients` against the same database).
import path from "node:path";

export const root = path.resolve(__dirname, "..");
export const serverBinary = path.join(root, "target", "debug", "server");

export type Portal = { baseURL: string; readyURL: string; dataDir: string; env: Record<string, string> };

function portal(port: number, name: string, extra: Record<string, string> = {}, host = "127.0.0.1"): Portal {
  const baseURL = `http://${host}:${port}`;
  const dataDir = path.join(root, "target", `e2e-${name}`);
  return {
    baseURL,
    // Checked before the tests start, by address: "localhost" may first resolve to ::1, where
    // nothing listens.
    readyURL: `http://127.0.0.1:${port}/readyz`,
    dataDir,
    env: {
      LEPTOS_OUTPUT_NAME: "portal",
      LEPTOS_SITE_ROOT: path.join(root, "target", "site"),
      LEPTOS_SITE_PKG_DIR: "pkg",
      // The build names the app's files by their content (cargo-leptos `hash-files`).
      LEPTOS_HASH_FILES: "true",
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_RELOAD_PORT: String(port + 1),
      PORTAL_DATABASE_URL: `sqlite://${dataDir}/portal.db`,
      PORTAL_DATA_DIR: dataDir,
      PORTAL_PUBLIC_URL: baseURL,
      PORTAL_PRACTICE_NAME: "Harbour Health",
      PORTAL_SUPPORT_PHONE: "0800 427 287",
      PORTAL_SUPPORT_EMAIL: "help@harbourhealth.example",
      // Every test's texts come from this one machine: the per-IP and daily limits are for
      // real traffic, and have tests of their own.
      PORTAL_LIMIT_SENDS_PER_IP_HOUR: "10000",
      PORTAL_LIMIT_SENDS_PER_DAY: "100000",
      PORTAL_LIMIT_REGISTRATIONS_PER_IP_HOUR: "10000",
      RUST_LOG: "warn",
      ...extra,
    },
  };
}

const base = Number(process.env.PORTAL_E2E_PORT ?? 3100);

/** The console SMS provider, whose outbox at /dev/sms the tests read codes from. */
export const main = portal(base, "data");

/** A careful practice's portal: its SMS gateway is down (nothing listens at its webhook address),
 * and patients without a verified number are sent to support. */
export const carefulPractice = portal(base + 2, "careful-practice", {
  PORTAL_SMS_PROVIDER: "webhook",
  PORTAL_SMS_WEBHOOK_URL: "http://127.0.0.1:9/sms",
  PORTAL_SMS_WEBHOOK_SECRET: "not a real gateway",
  PORTAL_FIRST_NUMBER_AT_LOGIN: "support",
});

/** A practice with two text providers whose first is down (nothing listens at its webhook
 * address): texts go through the second, the console, whose outbox the tests read. */
export const secondProvider = portal(base + 10, "second-provider", {
  PORTAL_SMS_PROVIDERS: "webhook,console",
  PORTAL_SMS_WEBHOOK_URL: "http://127.0.0.1:9/sms",
  PORTAL_SMS_WEBHOOK_SECRET: "not a real gateway",
});

/** A portal of its own for the journey that switches two-factor authentication off and on. */
export const practiceSettings = portal(base + 4, "practice-settings");

/** A portal reached by name: browsers refuse an IP address as a passkey's site, so the passkey
 * journeys run here, at http://localhost. */
export const passkeys = portal(base + 8, "passkeys", {}, "localhost");

/** The PostgreSQL server `.ci/test` starts, if any: one journey runs on it too. */
export const postgresServer = process.env.PORTAL_TEST_POSTGRES || undefined;

/** A portal on PostgreSQL (only when a server is given). */
export const onPostgres = postgresServer
  ? portal(base + 6, "postgres", {
      PORTAL_DATABASE_URL: `${postgresServer}/portal_e2e`,
      PORTAL_SECRET_KEY: "the end-to-end portal's shared secret key",
    })
  : undefined;

// Kept for the tests that run commands against the main portal.
export const serverEnv = main.env;
