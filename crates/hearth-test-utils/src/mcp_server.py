"""A small real MCP server for Hearth's tests, built on the official `mcp` Python SDK.

stdio by default; `--http` serves streamable HTTP on 127.0.0.1 at a free port and prints
`port <n>` on stdout first. Tools: add, echo, crash (exits the process), grow (adds a tool
and sends notifications/tools/list_changed), picture (an image result), fail (isError).
"""

import os
import socket
import sys

try:
    from mcp.server.mcpserver import Context, MCPServer as Server
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import Context, FastMCP as Server

server = Server("fake")


@server.tool(description="Adds two integers.")
def add(a: int, b: int) -> str:
    return str(a + b)


@server.tool(description="Answers the text it is given.")
def echo(text: str) -> str:
    return text


@server.tool(description="Exits the server process at once.")
def crash() -> str:
    sys.stdout.flush()
    os._exit(3)


@server.tool(description="Adds the tool `extra` and tells the client its tools changed.")
async def grow(ctx: Context) -> str:
    def extra() -> str:
        return "extra"

    server.add_tool(extra, name="extra", description="A tool added at run time.")
    await ctx.session.send_tool_list_changed()
    return "grown"


@server.tool(description="Answers with a tiny image.")
def picture():
    from mcp.types import ImageContent

    return [ImageContent(type="image", data="AAAA", mimeType="image/png")]


@server.tool(description="Always fails.")
def fail() -> str:
    raise ValueError("it failed on purpose")


def main():
    if "--http" not in sys.argv:
        print("fake MCP server on stdio", file=sys.stderr)
        server.run()
        return
    import anyio
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(f"port {sock.getsockname()[1]}", flush=True)
    app = server.streamable_http_app()
    config = uvicorn.Config(app, log_level="warning")
    anyio.run(lambda: uvicorn.Server(config).serve(sockets=[sock]))


if __name__ == "__main__":
    main()
