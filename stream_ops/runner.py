"""`stream-ops run`: start the show and its web app; stop cleanly on SIGINT/SIGTERM.

Clean means: outputs stopped, recordings closed, no ffmpeg child left behind.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import socket
import sys

import uvicorn

from .config import ShowConfig
from .show import Show
from .web.app import create_app

log = logging.getLogger(__name__)


def control_url(show: Show) -> str:
    host = "127.0.0.1" if show.host in ("0.0.0.0", "::") else show.host
    return f"{show.scheme}://{host}:{show.port}/?token={show.token}"


def bind(host: str, port: int) -> socket.socket:
    """Take the web port before anything starts, so a busy port is one clear line, not a half-started show."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


def run(config: ShowConfig, warnings: list[str] | None = None, host: str = "127.0.0.1", port: int = 8080,
        tls_cert: str | None = None, tls_key: str | None = None) -> int:
    try:
        sock = bind(host, port)
    except OSError as exc:
        print(f"stream-ops: cannot listen on {host}:{port}: {exc.strerror or exc}. "
              f"Is another show running there? Choose another with --port.", file=sys.stderr)
        return 1
    show = Show(config, host=host, port=port, scheme="https" if tls_cert else "http")
    app = create_app(show)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           lifespan="on", ws="websockets-sansio", ws_ping_interval=10,
                                           ssl_certfile=tls_cert, ssl_keyfile=tls_key))
    for w in warnings or []:
        print(w, file=sys.stderr)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started:
            print(f"stream-ops: {config.name} on air", flush=True)
            print(f"control panel: {control_url(show)}", flush=True)
        await task
        return 0 if server.started else 1

    # uvicorn installs its own signal handlers inside serve(); ours just ask it to exit.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    return asyncio.run(main())
