"""Interoperability smoke test: the official MCP Python SDK against `docward serve --stdio`.

Run by the Rust end-to-end test `python_sdk` (tests/e2e/python_sdk.rs), which prepares a data dir
and passes the binary, the data dir and two keys through the environment (never argv):
DOCWARD_BIN, DOCWARD_DATA_DIR, DOCWARD_TEST_KEY_FULL (all three mcp scopes) and
DOCWARD_TEST_KEY_SEARCH (mcp:search only). Exits non-zero with a message on the first failure.
"""

import asyncio
import os
import sys

from mcp import Client, StdioServerParameters


def server(key: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=os.environ["DOCWARD_BIN"],
        args=["serve", "--stdio", "--env", "test"],
        env={
            "DOCWARD_API_KEY": key,
            "DOCWARD_DATA_DIR": os.environ["DOCWARD_DATA_DIR"],
            "PATH": os.environ.get("PATH", ""),
        },
    )


def check(condition: bool, message: str) -> None:
    if not condition:
        print(f"FAILED: {message}", file=sys.stderr)
        sys.exit(1)


def text_of(result) -> str:
    return "\n".join(block.text for block in result.content if getattr(block, "text", None))


async def full_key(mode: str) -> None:
    async with Client(server(os.environ["DOCWARD_TEST_KEY_FULL"]), mode=mode) as client:
        tools = sorted(tool.name for tool in (await client.list_tools()).tools)
        check(tools == ["get_doc", "list_repos", "search"], f"[{mode}] tools/list gave {tools}")

        found = await client.call_tool("search", {"query": "revoking a key", "limit": 3})
        check(not found.is_error, f"[{mode}] search failed: {text_of(found)}")
        results = found.structured_content["results"]
        check(len(results) >= 1, f"[{mode}] search found nothing")
        check(results[0]["path"] == "guide/keys.md", f"[{mode}] top hit was {results[0]['path']}")

        doc = await client.call_tool("get_doc", {"repo": "handbook", "path": "guide/keys.md"})
        check(not doc.is_error, f"[{mode}] get_doc failed: {text_of(doc)}")
        check("Rotating a key" in text_of(doc), f"[{mode}] get_doc text lacks the document")

        repos = await client.call_tool("list_repos", {})
        names = [repo["name"] for repo in repos.structured_content["repos"]]
        check(names == ["handbook"], f"[{mode}] list_repos gave {names}")


async def search_only_key() -> None:
    async with Client(server(os.environ["DOCWARD_TEST_KEY_SEARCH"])) as client:
        tools = [tool.name for tool in (await client.list_tools()).tools]
        check(tools == ["search"], f"a search-only key was listed {tools}")
        refused = await client.call_tool("get_doc", {"repo": "handbook", "path": "guide/keys.md"})
        check(refused.is_error, "get_doc ran without mcp:get_doc")
        check("mcp:get_doc" in text_of(refused), f"refusal does not name the scope: {text_of(refused)}")
        check(
            refused.structured_content["error"]["code"] == "missing_scope",
            f"refusal code: {refused.structured_content}",
        )


async def main() -> None:
    await full_key("auto")
    await full_key("legacy")
    await search_only_key()
    print("python sdk smoke: 3 sessions passed")


if __name__ == "__main__":
    asyncio.run(main())
