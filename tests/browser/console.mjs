// A real browser (Debian chromium, driven by playwright-core) logs in to the console and
// sees the dashboard load its data, with no Content-Security-Policy violation.
//   node tests/browser/console.mjs BASE_URL TOKEN
// Prints one JSON line of what it saw; exits 1 (with the reason) if anything is off.
// Run by tests/e2e/tests/console.rs on every runtime the e2e suite runs on.
import { chromium } from "playwright-core";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [base, token] = process.argv.slice(2);
if (!base || !token) {
  console.error("usage: node console.mjs BASE_URL TOKEN");
  process.exit(2);
}
const executablePath = process.env.ORDERHUB_CHROMIUM || "/usr/bin/chromium";
const profile = mkdtempSync(join(tmpdir(), "orderhub-chromium-"));
const seen = { console_errors: [] };
const fail = why => { throw new Error(why + "\n" + JSON.stringify(seen)); };

const context = await chromium.launchPersistentContext(profile, {
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  // Every CSP violation a page reports, collected before any page script runs (an init
  // script goes through the DevTools protocol, which the page's CSP does not govern).
  await context.addInitScript(() => {
    window.__violations = [];
    document.addEventListener("securitypolicyviolation", e => {
      window.__violations.push({ directive: e.violatedDirective, blocked: e.blockedURI });
    });
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.on("console", m => {
    if (m.type() === "error") seen.console_errors.push(m.text());
  });
  const violations = async () => page.evaluate(() => window.__violations);

  // Without a session the dashboard is refused.
  const before = await page.goto(base + "/dashboard/");
  if (before.status() !== 401) fail("dashboard without a session: " + before.status());

  // The login page, with its security headers.
  const login = await page.goto(base + "/dashboard/login");
  const h = login.headers();
  if (login.status() !== 200) fail("login page: " + login.status());
  if (!(h["content-security-policy"] || "").includes("script-src 'self'")) fail("login page CSP: " + h["content-security-policy"]);
  if (h["x-content-type-options"] !== "nosniff") fail("nosniff missing");
  seen.csp = h["content-security-policy"];

  // A wrong token is refused on the page.
  await page.fill("#token", "not-a-token");
  await page.click("button[type=submit]");
  await page.waitForFunction(() => document.getElementById("error").textContent.length > 0);
  seen.refused = await page.textContent("#error");
  if (!seen.refused.includes("bad_token")) fail("wrong token: " + seen.refused);

  // The right one opens the dashboard, which loads its data with the cookie.
  await page.fill("#token", token);
  await Promise.all([
    page.waitForURL(base + "/dashboard/"),
    page.click("button[type=submit]"),
  ]);
  await page.waitForSelector("#rows tr[data-channel=meituan]");
  seen.channels = await page.$$eval("#rows tr", rows => rows.map(r => r.dataset.channel));
  seen.day = await page.textContent("#day");
  if (!seen.day.startsWith("business day ")) fail("day: " + seen.day);
  const cookie = (await context.cookies()).find(c => c.name === "orderhub_session");
  if (!cookie) fail("no session cookie");
  seen.cookie = { httpOnly: cookie.httpOnly, sameSite: cookie.sameSite, path: cookie.path, secure: cookie.secure };
  if (!cookie.httpOnly || cookie.sameSite !== "Strict") fail("cookie flags: " + JSON.stringify(seen.cookie));
  if ((await page.evaluate(() => document.cookie)).includes("orderhub_session")) fail("the page's script can read the session cookie");
  seen.dashboard_violations = await violations();
  if (seen.dashboard_violations.length) fail("CSP violations on the dashboard");
  if (seen.console_errors.some(e => e.includes("Content Security Policy"))) fail("CSP errors in the console");

  // Logout clears the cookie; the dashboard is refused again.
  await Promise.all([page.waitForURL(base + "/dashboard/login"), page.click("#logout")]);
  if ((await context.cookies()).some(c => c.name === "orderhub_session")) fail("cookie kept after logout");
  const after = await page.goto(base + "/dashboard/");
  if (after.status() !== 401) fail("dashboard after logout: " + after.status());

  // Before the injection below, the only errors are the expected refusals (401 before
  // login and after logout) and the browser's own /favicon.ico (404).
  const unexpected = seen.console_errors.filter(e => !/status of (401|404)/.test(e));
  if (unexpected.length) fail("console errors: " + unexpected.join(" | "));

  // The check is live: an inline script injected into the login page is blocked and
  // reported (so "no violation" above means none happened, not that none is seen).
  await page.goto(base + "/dashboard/login");
  await page.evaluate(() => {
    const s = document.createElement("script");
    s.textContent = "window.__ran = true";
    document.body.appendChild(s);
  });
  await page.waitForFunction(() => window.__violations.length > 0);
  seen.injected = await violations();
  if (await page.evaluate(() => window.__ran === true)) fail("an inline script ran");
  if (!seen.injected.every(v => v.blocked === "inline")) fail("unexpected violation");
  console.log(JSON.stringify({ ok: true, ...seen }));
} catch (e) {
  console.error(String(e && e.stack || e));
  process.exitCode = 1;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
