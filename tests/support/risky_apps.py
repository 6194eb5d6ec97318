"""The apps behind tests/support/risky.py: Starlette with and without a host check, a Flask app
for its debugger, a websockets server, and stand-ins for Ollama and Elasticsearch.

Run as ``python -m tests.support.risky_apps KIND ADDRESS PORT [ARG]`` for the servers that are
not ASGI or WSGI apps.
"""

from __future__ import annotations

import http.server
import json
import os
import socket
import sys

from flask import Flask
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import HTMLResponse
from starlette.routing import Route


async def _index(_request: object) -> HTMLResponse:
    return HTMLResponse("<html><head><title>starlette app</title></head><body>hi</body></html>")


_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
starlette_checked = Starlette(
    routes=[Route("/", _index)],
    middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=_HOSTS)],
)
"""Starlette with TrustedHostMiddleware: a foreign ``Host`` gets 400."""

starlette_open = Starlette(routes=[Route("/", _index)])
"""Starlette without a host check: DNS rebinding reads it."""

flask_app = Flask(__name__)


@flask_app.get("/")
def _flask_index() -> str:
    return "<html><head><title>flask app</title></head><body>hi</body></html>"


def _websockets(address: str, port: int, mode: str) -> None:
    import asyncio

    from websockets.asyncio.server import serve

    async def echo(connection) -> None:  # type: ignore[no-untyped-def]
        async for message in connection:
            await connection.send(message)

    async def main() -> None:
        origins = ["http://localhost:3000"] if mode == "origins" else None
        async with serve(echo, address, port, origins=origins) as server:  # type: ignore[arg-type]
            await server.serve_forever()

    asyncio.run(main())


_STANDIN = {
    # Ollama's documented answers (docs/api.md): GET / and GET /api/tags.
    "ollama": {
        "/": (200, "text/plain; charset=utf-8", b"Ollama is running"),
        "/api/tags": (
            200,
            "application/json; charset=utf-8",
            json.dumps({"models": [{"name": "llama3:latest", "size": 4661224676}]}).encode(),
        ),
    },
    # Elasticsearch's GET / without security (its "You Know, for Search" cluster document).
    "elasticsearch": {
        "/": (
            200,
            "application/json; charset=UTF-8",
            json.dumps(
                {
                    "name": "node-1",
                    "cluster_name": "elasticsearch",
                    "cluster_uuid": "x3Gq0m1oQxW8",
                    "version": {"number": "8.13.0"},
                    "tagline": "You Know, for Search",
                },
                indent=2,
            ).encode(),
        ),
    },
}


def _standin(kind: str, address: str, port: int) -> None:
    answers = _STANDIN[kind]

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, content_type, body = answers.get(
                self.path, (404, "text/plain", b"404 page not found")
            )
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            sys.stderr.write(f"{self.command} {self.path} {self.headers.get('Host')}\n")

    class Server(http.server.ThreadingHTTPServer):
        address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
        daemon_threads = True

    Server((address, port), Handler).serve_forever()


if __name__ == "__main__":
    kind, bind, port_text = sys.argv[1:4]
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if kind == "websockets":
        _websockets(bind, int(port_text), sys.argv[4])
    else:
        _standin(kind, bind, int(port_text))
