"""Interoperability smoke test: the official MCP Python SDK against `docward serve --http`,
over streamable HTTP and over the legacy HTTP+SSE transport, with Bearer keys.

Run by the Rust end-to-end test in tests/e2e/http.rs, which starts the server and passes through
the environment: DOCWARD_URL (base URL), DOCWARD_TEST_KEY_FULL (three mcp scopes),
DOCWARD_TEST_KEY_SEARCH (mcp:search only) and DOCWARD_TEST_KEY_REVOKED (a revoked key).
"""

import asyncio
import os
import sys

from mcp import Client, MCPError
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

BASE = os.environ["DOCWARD_URL"]


def check(condition: bool, message: str) -> None:
    if not condition:
        print(f"FAILED: {message}", file=sys.stderr)
        sys.exit(1)


def text_of(result) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "text", None))


def bearer(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def streamable(key: str):
    return streamable_http_client(f"{BASE}/mcp", http_client=create_mcp_http_client(headers=bearer(key)))


def sse(key: str):
    return sse_client(f"{BASE}/sse", headers=bearer(key))


async def exercise(label: str, transport, mode: str) -> None:
    async with Client(transport, mode=mode) as client:
        tools = sorted(tool.name for tool in (await client.list_tools()).tools)
        check(tools == ["get_doc", "list_repos", "search"], f"[{label}] tools/list gave {tools}")
        found = await client.call_tool("search", {"query": "revoking a key", "limit": 3})
        check(not found.is_error, f"[{label}] search failed: {text_of(found)}")
        check(found.structured_content["results"][0]["path"] == "guide/keys.md", f"[{label}] top hit")
        doc = await client.call_tool("get_doc", {"repo": "handbook", "path": "guide/keys.md"})
        check("Rotating a key" in text_of(doc), f"[{label}] get_doc: {text_of(doc)}")
        repos = await client.call_tool("list_repos", {})
        check(repos.structured_content["repos"][0]["name"] == "handbook", f"[{label}] list_repos")


async def search_only_over_sse() -> None:
    async with Client(sse(os.environ["DOCWARD_TEST_KEY_SEARCH"]), mode="legacy") as client:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        check(tools == ["search"], f"[sse] a search-only key was listed {tools}")
        refused = await client.call_tool("get_doc", {"repo": "handbook", "path": "guide/keys.md"})
        check(refused.is_error, "[sse] get_doc ran without mcp:get_doc")
        check("mcp:get_doc" in text_of(refused), f"[sse] refusal: {text_of(refused)}")


async def search_only_over_streamable() -> None:
    async with Client(streamable(os.environ["DOCWARD_TEST_KEY_SEARCH"]), mode="legacy") as client:
        refused = await client.call_tool("get_doc", {"repo": "handbook", "path": "guide/keys.md"})
        check(refused.is_error, "[http] get_doc ran without mcp:get_doc")
        check("mcp:get_doc" in text_of(refused), f"[http] refusal: {text_of(refused)}")


def messages(error: BaseException) -> str:
    if isinstance(error, BaseExceptionGroup):
        return " | ".join(messages(e) for e in error.exceptions)
    if isinstance(error, MCPError):
        return error.error.message
    return str(error)


async def revoked_key_is_refused() -> None:
    key = os.environ["DOCWARD_TEST_KEY_REVOKED"]
    for label, transport, mode in [("http", streamable(key), "legacy"), ("sse", sse(key), "legacy")]:
        try:
            async with Client(transport, mode=mode) as client:
                await client.list_tools()
        except BaseException as error:  # noqa: BLE001 - any failure to connect is the point
            text = messages(error)
            check("revoked" in text, f"[{label}] refusal does not say revoked: {text}")
            continue
        check(False, f"[{label}] a revoked key connected")


async def main() -> None:
    full = os.environ["DOCWARD_TEST_KEY_FULL"]
    await exercise("streamable auto", streamable(full), "auto")
    await exercise("streamable legacy", streamable(full), "legacy")
    await exercise("sse", sse(full), "legacy")
    await search_only_over_sse()
    await search_only_over_streamable()
    await revoked_key_is_refused()
    print("python sdk http smoke: all transports passed")


if __name__ == "__main__":
    asyncio.run(main())
