"""The public apply service as a process of its own, and the studio's watch over it.

Strangers reach the apply form from the QR code on air, so it never runs inside
the process that encodes the program: a crash, a hang or a memory blow-up there
cannot reach the picture (DESIGN.md, "The control plane").

- `serve(...)`: `stream-ops fair serve SHOW.yaml`, the form, withdraw and visit
  counting on their own port, sharing the job fair's store with the studio. Run it
  by hand on a cloud host (PostgreSQL store), or let `stream-ops run` start it.
- `PublicServiceChild`: what `stream-ops run` uses. The studio binds the public
  port itself and hands the listening socket to the child, so a child that dies is
  replaced without the port ever being free (connections wait in the backlog) and
  a busy port is one clear line at start. The child runs niced below the engine
  and dies with the studio (PR_SET_PDEATHSIG).
"""
from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

NICE = 10                    # below the engine and the source children (+5): the program wins
RESTART_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0)
HEALTHY_AFTER_S = 10.0       # a child that ran this long starts the back-off again from the beginning
MAX_PUBLIC_HEADERS = 16 * 1024


def bind(host: str, port: int) -> socket.socket:
    """A listening socket, taken before anything starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named: asyncio sets TCP_NODELAY on accepted connections only when the listening
    # socket says it is TCP; without it Nagle + delayed ACKs add ~40 ms to every answer (measured).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(512)
    return sock


def service_for(config: Any) -> Any:
    """The job-fair service of a show, as the public side uses it (no events: nobody listens here)."""
    from .jobfair.service import JobFairService

    fair = config.jobfair
    return JobFairService(fair, show_name=config.name, data_dir=config.data_path,
                          public_url=fair.apply.public_url, port=fair.apply.port)


def uvicorn_config(app: Any, **kwargs: Any) -> Any:
    """uvicorn as the public side needs it: no proxy headers of its own (web/public.py decides
    whom to believe), small limits, no access log (addresses are personal data)."""
    import uvicorn

    return uvicorn.Config(app, log_level="warning", access_log=False, proxy_headers=False, server_header=False,
                          lifespan="on", ws="none", h11_max_incomplete_event_size=MAX_PUBLIC_HEADERS,
                          timeout_keep_alive=5, **kwargs)


def serve(config: Any, host: str = "127.0.0.1", port: int | None = None, fd: int | None = None,
          tls_cert: str | None = None, tls_key: str | None = None) -> int:
    """Run the public service until SIGINT/SIGTERM (blocking). `fd`: a socket already listening."""
    import uvicorn

    from .web.app import create_public_app

    if config.jobfair is None:
        print("stream-ops fair serve: this show has no jobfair: section", file=sys.stderr)
        return 2
    port = port or config.jobfair.apply.port
    sock = None
    if fd is None:
        try:
            sock = bind(host, port)
        except OSError as exc:
            print(f"stream-ops fair serve: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
            return 1
    else:
        sock = socket.socket(fileno=fd)
    app = create_public_app(service_for(config))
    server = uvicorn.Server(uvicorn_config(app, ssl_certfile=tls_cert, ssl_keyfile=tls_key))
    print(f"stream-ops: apply service for {config.name} on "
          f"{'https' if tls_cert else 'http'}://{sock.getsockname()[0]}:{sock.getsockname()[1]}/apply", flush=True)
    server.run(sockets=[sock])
    return 0


# --------------------------------------------------------------------------- the studio's child

def _child_preexec() -> Callable[[], None]:
    prctl = None
    if sys.platform.startswith("linux"):
        try:
            prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            prctl = None

    def preexec() -> None:
        if prctl is not None:
            prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG: die with the studio
        os.nice(NICE)

    return preexec


class PublicServiceChild:
    """Keeps one `stream-ops fair serve` child running on a socket the studio holds."""

    def __init__(self, show_path: Path, sock: socket.socket, tls: tuple[str, str] | None = None,
                 on_event: Callable[[str, str], None] | None = None) -> None:
        self.show_path = show_path
        self.sock = sock
        self.tls = tls
        self.on_event = on_event or (lambda level, message: None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.sock.getsockname()[:2]
        return host, port

    def command(self) -> list[str]:
        cmd = [sys.executable, "-m", "stream_ops", "fair", "serve", str(self.show_path),
               "--fd", str(self.sock.fileno())]
        if self.tls:
            cmd += ["--tls-cert", self.tls[0], "--tls-key", self.tls[1]]
        return cmd

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, pass_fds=(self.sock.fileno(),),
                                preexec_fn=_child_preexec(),
                                # Its own session: a Ctrl-C in the studio's terminal is for the studio,
                                # which then stops the child itself (and PDEATHSIG covers a killed studio).
                                start_new_session=True)

    def start(self) -> None:
        self.proc = self._spawn()
        self._thread = threading.Thread(target=self._watch, name="public-service", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        failures = 0
        while not self._stop.is_set():
            proc = self.proc
            assert proc is not None
            started = time.monotonic()
            code = proc.wait()
            if self._stop.is_set():
                return
            if time.monotonic() - started > HEALTHY_AFTER_S:
                failures = 0
            delay = RESTART_BACKOFF_S[min(failures, len(RESTART_BACKOFF_S) - 1)]
            failures += 1
            self.on_event("warning", f"报名服务退出（{_how(code)}），{delay:g} 秒后重启 / public apply service "
                                     f"ended ({_how(code)}); restarting in {delay:g} s")
            if self._stop.wait(delay):
                return
            self.proc = self._spawn()
            self.restarts += 1
            self.on_event("info", f"报名服务已重启 / public apply service restarted (pid {self.proc.pid})")

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._thread is not None:
            self._thread.join(timeout)
        self.sock.close()

    def info(self) -> dict[str, Any]:
        host, port = self.address
        return {"pid": self.proc.pid if self.proc else None, "running": bool(self.proc and self.proc.poll() is None),
                "restarts": self.restarts, "port": port}


def _how(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
