// Where the portal under test runs and how it is configured; shared by the Playwright config
// (which starts it) and the tests (which run its `import-patients` command against the same database).
import path from "node:path";

export const root = path.resolve(__dirname, "..");
export const port = Number(process.env.PORTAL_E2E_PORT ?? 3100);
export const baseURL = `http://127.0.0.1:${port}`;
export const dataDir = path.join(root, "target", "e2e-data");
export const serverBinary = path.join(root, "target", "debug", "server");

export const serverEnv: Record<string, string> = {
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
};
