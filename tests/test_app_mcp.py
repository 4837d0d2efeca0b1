"""`python app.py --mcp`: the page's public API as MCP tools, listed and called by a real MCP
client (the `mcp` package, streamable HTTP); without the flag there is no MCP endpoint."""
import ast
import asyncio
import base64
import json
import urllib.error
import urllib.request

import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from PIL import Image

from demo import symbol_examples
from demo.examples import example_pairs
from demo.measure.launch import loopback_client, served_app

from .helpers import compare

pytestmark = pytest.mark.app


def _data_url(path, name: str | None = None) -> str:
    """An image as MCP clients without a public URL send it: a base64 data URL (naming it, if asked)."""
    return f"data:image/png;{f'name={name};' if name else ''}base64," + base64.b64encode(open(path, "rb").read()).decode()


async def _session(url: str, calls: list[tuple[str, dict]]):
    """List the tools, then call each (tool, arguments) of `calls`."""
    async with streamable_http_client(url + "gradio_api/mcp/") as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = {t.name: t for t in (await session.list_tools()).tools}
            results = [await session.call_tool(tool, args) for tool, args in calls]
    return tools, results


def test_mcp_lists_the_described_tools_and_compare_answers_as_the_api_does(tmp_path):
    Image.new("L", (64, 64), 255).save(tmp_path / "blank.png")
    pairs = example_pairs()[:2]  # two sevens; a seven and a one
    calls = [("compare", {"image_a": _data_url(a), "image_b": _data_url(b)}) for a, b in pairs]
    calls.append(("compare", {"image_a": _data_url(pairs[0][0]), "image_b": _data_url(tmp_path / "blank.png")}))
    drawn = symbol_examples.write_set(tmp_path / "drawn", 2, names=("star", "heart", "moon"))
    calls.append(("one_shot", {"references": [_data_url(drawn[n][0], n) for n in drawn],
                               "query": _data_url(drawn["moon"][1]), "model": "digits"}))
    with served_app("--mcp") as (_, url, log):
        tools, results = asyncio.run(_session(url, calls))
        client = loopback_client(url)
        expected = [compare(client, a, b) for a, b in pairs]
        with urllib.request.urlopen(url + "gradio_api/mcp/schema", timeout=10) as r:
            schema = {t["name"]: t for t in json.load(r)}
        printed = log.read_text()

    assert "/gradio_api/mcp/" in printed  # Gradio says where the MCP server is
    # The public API and nothing else: the page's own handlers are private.
    assert set(tools) == set(schema) == {"compare", "one_shot", "retrain_api", "class_retrain_api", "watch_class"}
    tool = tools["compare"]
    assert tool.description.startswith("Compare two images of handwritten digits")
    assert "Returns: distance" in tool.description
    props = tool.inputSchema["properties"]
    assert list(props) == ["image_a", "image_b"] and tool.inputSchema["required"] == ["image_a", "image_b"]
    assert props["image_a"]["description"].startswith("the first digit image")
    assert schema["compare"]["inputSchema"] == tool.inputSchema
    retrain = tools["retrain_api"].inputSchema["properties"]
    assert set(retrain) == {"loss", "seconds", "lr", "init", "exclude_digits"}
    assert "7,8,9" in retrain["exclude_digits"]["description"]  # from the docstring's Args
    one_shot = tools["one_shot"]
    assert one_shot.description.startswith("One-shot classification of a hand-drawn symbol")
    props = one_shot.inputSchema["properties"]
    assert list(props) == ["references", "query", "model"] and one_shot.inputSchema["required"] == ["references", "query"]
    assert props["references"]["type"] == "array" and "file's name without its extension" in props["references"]["description"]
    assert props["model"]["default"] == "symbols" and '"digits"' in props["model"]["description"]

    # A call through the MCP endpoint gives what /compare gives through gradio_client.
    for result, want in zip(results[:2], expected):
        assert not result.isError
        got = ast.literal_eval(result.content[0].text)  # Gradio sends the JSON output as its str()
        assert got == want
    assert expected[0]["same"] is True and expected[1]["same"] is False
    # A blank image is a tool error that says why.
    assert results[2].isError and "blank" in results[2].content[0].text
    # A list of files over MCP: data URLs, each naming its symbol.
    assert not results[3].isError, results[3].content[0].text
    ranked = ast.literal_eval(results[3].content[0].text)
    assert ranked["model"] == "digits" and sorted(r["name"] for r in ranked["ranking"]) == ["heart", "moon", "star"]


def test_without_the_flag_there_is_no_mcp_endpoint(server):
    for path in ("gradio_api/mcp/", "gradio_api/mcp/schema"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(server + path, timeout=10)
        assert e.value.code == 404
