// Drives docward with the official TypeScript MCP SDK client, the way an application built on it
// would, and prints what such an application has to show its user: one JSON line
// {"stage": "connect" | "list" | "call" | "done", "ok": bool, "shown": "<text>", "tools": [...]}.
//
// Usage: node sdk_client.mjs <stdio|http|sse> <url-or-binary> [--key K] [--oauth]
//        [--tool NAME] [--args JSON] [--calls N]
// Over stdio the key goes into DOCWARD_API_KEY of the spawned `docward serve --stdio`; over
// HTTP and SSE it goes into `Authorization: Bearer`. `--oauth` gives the transport an OAuth
// provider without tokens, as IDE clients have one: it shows whether docward's answers make the
// client start an OAuth flow.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { SSEClientTransport } from "@modelcontextprotocol/sdk/client/sse.js";

function parseArgs(argv) {
  const [transport, target, ...rest] = argv;
  const opts = { transport, target, tool: "search", args: '{"query":"keys"}', calls: 1 };
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i];
    if (flag === "--oauth") opts.oauth = true;
    else if (flag === "--key") opts.key = rest[++i];
    else if (flag === "--tool") opts.tool = rest[++i];
    else if (flag === "--args") opts.args = rest[++i];
    else if (flag === "--calls") opts.calls = Number(rest[++i]);
    else if (flag === "--env") opts.env = rest[++i];
    else throw new Error(`unknown flag ${flag}`);
  }
  return opts;
}

/** An OAuth provider with no tokens whose "browser" step fails loudly, as a headless IDE's would. */
function oauthProvider() {
  let verifier = "";
  return {
    get redirectUrl() {
      return "http://127.0.0.1:1/callback";
    },
    get clientMetadata() {
      return { client_name: "docward-test", redirect_uris: ["http://127.0.0.1:1/callback"] };
    },
    clientInformation: () => undefined,
    saveClientInformation: () => {},
    tokens: () => undefined,
    saveTokens: () => {},
    redirectToAuthorization: () => {
      throw new Error("OAUTH_BROWSER_FLOW_STARTED");
    },
    saveCodeVerifier: (v) => {
      verifier = v;
    },
    codeVerifier: () => verifier,
  };
}

function transportFor(opts) {
  if (opts.transport === "stdio") {
    const env = { PATH: process.env.PATH ?? "", DOCWARD_DATA_DIR: process.env.DOCWARD_DATA_DIR ?? "" };
    if (opts.key) env.DOCWARD_API_KEY = opts.key;
    return new StdioClientTransport({
      command: opts.target,
      args: ["serve", "--stdio", "--env", opts.env ?? "test"],
      env,
      stderr: "ignore",
    });
  }
  const headers = opts.key ? { Authorization: `Bearer ${opts.key}` } : {};
  const common = { requestInit: { headers }, ...(opts.oauth ? { authProvider: oauthProvider() } : {}) };
  const url = new URL(opts.target);
  return opts.transport === "sse" ? new SSEClientTransport(url, common) : new StreamableHTTPClientTransport(url, common);
}

function textOf(result) {
  return (result.content ?? [])
    .filter((c) => c.type === "text")
    .map((c) => c.text)
    .join("\n");
}

function report(line) {
  process.stdout.write(JSON.stringify(line) + "\n");
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const client = new Client({ name: "docward-sdk-test", version: "0" });
  const timeout = { timeout: 15000 };
  try {
    await client.connect(transportFor(opts), timeout);
  } catch (error) {
    report({ stage: "connect", ok: false, shown: String(error?.message ?? error) });
    return;
  }
  let tools = [];
  try {
    tools = (await client.listTools(undefined, timeout)).tools.map((t) => t.name).sort();
    report({ stage: "list", ok: true, tools, instructions: client.getInstructions() ?? "" });
  } catch (error) {
    report({ stage: "list", ok: false, shown: String(error?.message ?? error) });
  }
  for (let i = 0; i < opts.calls; i++) {
    try {
      const result = await client.callTool({ name: opts.tool, arguments: JSON.parse(opts.args) }, undefined, timeout);
      report({ stage: "call", ok: !result.isError, shown: textOf(result) });
    } catch (error) {
      report({ stage: "call", ok: false, shown: String(error?.message ?? error) });
    }
  }
  await client.close().catch(() => {});
  report({ stage: "done", ok: true });
}

main().catch((error) => {
  report({ stage: "crash", ok: false, shown: String(error?.stack ?? error) });
  process.exitCode = 1;
});
