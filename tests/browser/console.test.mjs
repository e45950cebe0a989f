// Drives the docward web console in Debian's headless Chromium through playwright-core, the way
// a person would: sign in by link, create a key, read it from the show-once dialog, use it over
// MCP, revoke it behind the confirmation, and watch the next MCP call fail. Every page gets an
// axe-core scan (no serious or critical violations allowed) and a screenshot.
//
// Inputs (environment): DOCWARD_CONSOLE_LINK (a one-time sign-in URL), DOCWARD_MCP_URL,
// DOCWARD_ARTIFACTS (folder for screenshots), CHROMIUM (default /usr/bin/chromium).
// Prints one line `RESULT {json}` and exits non-zero on the first failed check.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import axe from "axe-core";

const link = must("DOCWARD_CONSOLE_LINK");
const mcpUrl = must("DOCWARD_MCP_URL");
const artifacts = must("DOCWARD_ARTIFACTS");
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
fs.mkdirSync(artifacts, { recursive: true });

function must(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

function check(condition, message) {
  if (!condition) throw new Error(`check failed: ${message}`);
}

const scans = [];
async function scan(page, name) {
  await page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
  // Evaluated through the DevTools protocol, so the console's CSP (no inline scripts) still holds.
  await page.evaluate(axe.source);
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    await axe.run(document, { resultTypes: ["violations"] }),
  );
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  scans.push({ page: name, violations: result.violations.length, serious: bad.length,
               ids: result.violations.map((v) => `${v.id}:${v.impact}`) });
  check(bad.length === 0, `axe on ${name}: ${bad.map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target).join(" ")}`).join("; ")}`);
}

/** One JSON-RPC POST to /mcp; answers { status, body, session }. */
async function mcp(key, body, session) {
  const headers = {
    "content-type": "application/json",
    accept: "application/json, text/event-stream",
    authorization: `Bearer ${key}`,
  };
  if (session) {
    headers["mcp-session-id"] = session;
    headers["mcp-protocol-version"] = "2025-06-18";
  }
  const response = await fetch(mcpUrl, { method: "POST", headers, body: JSON.stringify(body) });
  const text = await response.text();
  let parsed = null;
  for (const line of text.split("\n")) {
    if (line.startsWith("data:")) {
      try { parsed = JSON.parse(line.slice(5)); } catch (_) { /* keep looking */ }
    }
  }
  if (parsed === null) {
    try { parsed = JSON.parse(text); } catch (_) { parsed = text; }
  }
  return { status: response.status, body: parsed, session: response.headers.get("mcp-session-id") };
}

async function openMcpSession(key) {
  const init = await mcp(key, {
    jsonrpc: "2.0", id: 1, method: "initialize",
    params: { protocolVersion: "2025-06-18", capabilities: {}, clientInfo: { name: "browser-test", version: "0" } },
  });
  if (init.status !== 200) return { init };
  await mcp(key, { jsonrpc: "2.0", method: "notifications/initialized" }, init.session);
  return { init, session: init.session };
}

function searchCall(id) {
  return { jsonrpc: "2.0", id, method: "tools/call", params: { name: "search", arguments: { query: "install" } } };
}

const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "docward-chromium-"));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const summary = { scans };
try {
  const page = context.pages()[0] || (await context.newPage());

  // 1. Sign in by link: lands on the keys page.
  const signIn = await page.goto(link);
  check(signIn.ok(), `sign-in answered ${signIn.status()}`);
  check(new URL(page.url()).pathname === "/console/keys", `after sign-in the page is ${page.url()}`);
  await page.getByRole("heading", { name: /API keys/ }).first().waitFor();
  await scan(page, "01-keys");

  // 2. Create a restricted test key; the three MCP scopes are checked already, 90 days suggested.
  await page.getByLabel("Name").fill("Browser test key");
  check(await page.getByLabel("mcp:search").isChecked(), "mcp:search pre-checked");
  check(await page.getByLabel("mcp:get_doc").isChecked(), "mcp:get_doc pre-checked");
  check(await page.getByLabel("mcp:list_repos").isChecked(), "mcp:list_repos pre-checked");
  check(!(await page.getByLabel("repo:write").isChecked()), "repo:write not pre-checked");
  check((await page.getByLabel("Expires").inputValue()) === "90", "90 days suggested");
  await page.getByRole("button", { name: "Create API key" }).click();

  // 3. The show-once dialog: read the key, copy it.
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  const key = await page.locator("#new-key").inputValue();
  check(/^dw_test_[0-9A-Za-z]{49}$/.test(key), "the dialog shows a test key");
  await page.getByRole("button", { name: "Copy", exact: true }).click();
  await page.locator(".secret .copied").filter({ hasText: /./ }).waitFor();
  check((await page.content()).includes(`Bearer ${key}`), "the snippets carry the key");
  await scan(page, "02-show-once");

  // 4. Use it over MCP.
  const first = await openMcpSession(key);
  check(first.init.status === 200 && first.session, `initialize with the new key answered ${first.init.status}`);
  const used = await mcp(key, searchCall(2), first.session);
  check(used.status === 200 && used.body?.result && !used.body.result.isError,
        `search with the new key: ${JSON.stringify(used.body).slice(0, 300)}`);
  summary.search_ok = true;

  // 5. Back to the list: the key is shown by prefix only, never again in clear.
  await page.getByRole("link", { name: /Done, back to keys/ }).click();
  await page.getByRole("heading", { name: /API keys/ }).first().waitFor();
  check(!(await page.content()).includes(key), "the key list does not hold the key");
  const row = page.locator("tr", { hasText: "Browser test key" });
  check((await row.locator(".status").innerText()) === "active", "the new key is active");
  // The environment switch: live hides the test key, test shows it.
  await page.getByRole("link", { name: "Live", exact: true }).click();
  check((await page.locator("tr", { hasText: "Browser test key" }).count()) === 0, "live filter hides the test key");
  await page.getByRole("link", { name: "Test", exact: true }).click();
  check((await page.locator("tr", { hasText: "Browser test key" }).count()) === 1, "test filter shows the test key");

  // 6. Revoke, with the confirmation step.
  await page.locator("tr", { hasText: "Browser test key" }).getByRole("link", { name: /Revoke/ }).click();
  await page.getByRole("heading", { name: "Revoke API key?" }).waitFor();
  await scan(page, "03-revoke-confirm");
  await page.getByRole("button", { name: "Revoke key" }).click();
  await page.getByRole("status").filter({ hasText: "revoked" }).waitFor();
  check((await page.locator("tr", { hasText: "Browser test key" }).locator(".status").innerText()) === "revoked",
        "the list shows the key revoked");
  await scan(page, "04-keys-after-revoke");

  // 7. The next MCP call fails, in the open session and in a new one.
  const after = await mcp(key, searchCall(3), first.session);
  const refused = after.status !== 200 || after.body?.error || after.body?.result?.isError;
  check(refused, `a call after revocation was not refused: ${after.status} ${JSON.stringify(after.body).slice(0, 300)}`);
  const fresh = await openMcpSession(key);
  // A JSON-RPC request with a refused key is answered in band (HTTP 200 and a JSON-RPC error),
  // which MCP clients show as they are (docs/http.md).
  const initRefused = fresh.init.status === 200 && fresh.init.body?.error?.code === -32040
    && /revoked/.test(fresh.init.body?.error?.message ?? "");
  check(initRefused, `initialize after revocation was not refused: ${fresh.init.status} ${JSON.stringify(fresh.init.body).slice(0, 300)}`);
  summary.refused_after_revoke = { in_session: after.status, new_session: fresh.init.status,
                                   text: JSON.stringify(after.body).slice(0, 200) };

  // 8. The other pages.
  for (const [name, label] of [["05-repos", "Repos"], ["06-usage", "Usage"], ["07-plan", "Plan and limits"]]) {
    await page.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name: label }).click();
    await page.getByRole("heading", { level: 1 }).waitFor();
    await scan(page, name);
  }
  check((await page.locator("svg, dl").count()) > 0, "the plan page shows its facts");
  summary.ok = true;
} catch (error) {
  summary.ok = false;
  summary.error = String(error && error.message ? error.message : error);
  try {
    const page = context.pages()[0];
    if (page) await page.screenshot({ path: path.join(artifacts, "failure.png"), fullPage: true });
  } catch (_) { /* the failure itself is what matters */ }
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
console.log(`RESULT ${JSON.stringify(summary)}`);
process.exit(summary.ok ? 0 : 1);
