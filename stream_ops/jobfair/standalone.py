"""Run the apply form and the job-fair API on their own: tests, benchmarks, a fair without video.

    python -m stream_ops.jobfair.standalone FAIR.yaml --data DIR --port 8000 [--token T]

FAIR.yaml is a show with a `jobfair:` section or a fair file itself. The full app
(`stream-ops run`) mounts the same routes next to the engine's.
"""
from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path
from typing import AsyncIterator

from starlette.applications import Starlette

from .model import load_fair_file
from .service import JobFairService
from .web import routes


def build_app(fair_path: Path, data_dir: Path, port: int = 8000, public_url: str | None = None,
              token: str | None = None) -> Starlette:
    """A Starlette app with the job-fair routes; the service starts and closes with it."""
    fair, lines = load_fair_file(fair_path)
    if fair is None:
        raise SystemExit("\n".join(lines))
    service = JobFairService(fair, fair_path.stem, data_dir, public_url=public_url, port=port)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.close()

    app = Starlette(routes=routes(service), lifespan=lifespan)
    app.state.jobfair = service
    if token:
        from ..web.auth import TokenMiddleware
        app.add_middleware(TokenMiddleware, token=token)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("fair", type=Path)
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--public-url")
    parser.add_argument("--token", help="operator token for /api/ (default: none, loopback tests only)")
    args = parser.parse_args(argv)
    import uvicorn

    app = build_app(args.fair, args.data, args.port, args.public_url, args.token)
    print(f"ready http://{args.host}:{args.port}/apply", file=sys.stderr, flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve_in_thread(app: object, port: int | None = None):  # type: ignore[no-untyped-def]
    """Run `app` under uvicorn on 127.0.0.1 in a thread; yields its base URL (tests, fakes)."""
    import threading
    import time

    import uvicorn

    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
