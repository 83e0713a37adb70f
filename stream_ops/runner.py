"""`stream-ops run`: start the show, its studio app and its public apply service; stop cleanly.

Clean means: outputs stopped, recordings closed, the apply service ended, no ffmpeg
child left behind, and one line that says so.
"""
from __future__ import annotations

import asyncio
import ctypes
import logging
import signal
import sys
from pathlib import Path

import uvicorn

from .config import ShowConfig
from .public_service import PublicServiceChild, bind
from .show import Show
from .tokens import make_token
from .web.app import create_studio_app

log = logging.getLogger(__name__)
MAX_WS_MESSAGE = 64 * 1024


MALLOC_ARENAS = 2
M_ARENA_MAX = -8   # glibc's mallopt parameter


def limit_malloc_arenas(n: int = MALLOC_ARENAS) -> bool:
    """At most `n` glibc malloc arenas in this process (as MALLOC_ARENA_MAX=n would).

    glibc gives threads that allocate their own arena, up to 8 per core; frames and
    packets freed into an arena no thread uses any more stay resident. The studio has
    ~40 threads (readers, encoder, x264, outputs); two arenas hold the same live data.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        return bool(ctypes.CDLL(None).mallopt(M_ARENA_MAX, n))
    except (OSError, AttributeError):   # not glibc (musl has no arenas to limit)
        return False


def control_url(show: Show, token: str) -> str:
    host = "127.0.0.1" if show.host in ("0.0.0.0", "::") else show.host
    return f"{show.scheme}://{host}:{show.port}/?token={token}"


def run(config: ShowConfig, warnings: list[str] | None = None, host: str = "127.0.0.1", port: int = 8080,
        tls_cert: str | None = None, tls_key: str | None = None, public_port: int | None = None,
        apply_service: bool = True) -> int:
    """Run the show until SIGINT/SIGTERM. `apply_service=False`: the public apply service runs
    elsewhere (`stream-ops fair serve` on a cloud host, sharing a PostgreSQL store)."""
    # Take the ports before anything starts, so a busy port is one clear line, not a half-started show.
    try:
        sock = bind(host, port)
    except OSError as exc:
        print(f"stream-ops: cannot listen on {host}:{port}: {exc.strerror or exc}. "
              f"Is another show running there? Choose another with --port.", file=sys.stderr)
        return 1
    sock.set_inheritable(False)
    public_sock = None
    if config.jobfair is not None and apply_service:
        apply = config.jobfair.apply
        public_host, public_port = apply.host or host, public_port or apply.port
        try:
            public_sock = bind(public_host, public_port)
        except OSError as exc:
            print(f"stream-ops: cannot listen on {public_host}:{public_port} for the apply service: "
                  f"{exc.strerror or exc}. Choose another with --public-port or jobfair apply.port.", file=sys.stderr)
            sock.close()
            return 1
    limit_malloc_arenas()   # before the engine's threads start allocating
    show = Show(config, host=host, port=port, scheme="https" if tls_cert else "http",
                apply_port=public_sock.getsockname()[1] if public_sock else public_port)
    token = make_token()
    app = create_studio_app(show, token)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           lifespan="on", ws="websockets-sansio", ws_ping_interval=10,
                                           ws_max_size=MAX_WS_MESSAGE, proxy_headers=False, server_header=False,
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
            if public_sock is not None:
                child = PublicServiceChild(Path(config.path), public_sock,
                                           (tls_cert, tls_key) if tls_cert and tls_key else None,
                                           on_event=lambda level, message: show.bus.log_threadsafe(
                                               message, level=level, actor="system"))
                child.start()
                show.public_service = child
            print(f"stream-ops: {config.name} on air", flush=True)
            print(f"control panel: {control_url(show, token)}", flush=True)
            if show.apply_base:
                print(f"apply form: {show.apply_base}/apply", flush=True)
        await task   # the app's shutdown stops the show, and the show its apply service
        return 0 if server.started else 1

    # uvicorn installs its own signal handlers inside serve(); ours just ask it to exit.
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    return asyncio.run(main())   # Show.stop logs how the show ended
