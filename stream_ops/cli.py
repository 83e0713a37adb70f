"""The `stream-ops` command: validate, schema, run, fair serve, export."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from .config import ShowConfig
from .problems import ShowFileError


def _load(path: str) -> tuple[ShowConfig, list[str]] | None:
    """Load and check the show file; print every problem and return None when it is wrong."""
    from .showfile import load_show

    try:
        config, warnings = load_show(path)
    except ShowFileError as exc:
        for line in exc.lines + exc.warnings:
            print(line)
        if len(exc.lines) > 1:
            print(f"{path}: {len(exc.lines)} problems")
        return None
    for line in warnings:
        print(line)
    return config, warnings


def _validate(args: argparse.Namespace) -> int:
    loaded = _load(args.show)
    if loaded is None:
        return 1
    config, _ = loaded
    print(f"ok: {args.show} — {len(config.sources)} sources, {len(config.scenes)} scenes, {len(config.outputs)} outputs")
    return 0


def _schema(args: argparse.Namespace) -> int:
    from .schema import show_schema

    print(json.dumps(show_schema(), indent=2, ensure_ascii=False))
    return 0


def _run(args: argparse.Namespace) -> int:
    loaded = _load(args.show)
    if loaded is None:
        return 1
    from .runner import run  # media stack: imported only when a show really runs

    if bool(args.tls_cert) != bool(args.tls_key):
        print("give both --tls-cert and --tls-key (phones need HTTPS to open their camera)", file=sys.stderr)
        return 2
    return run(loaded[0], loaded[1], host=args.host, port=args.port, tls_cert=args.tls_cert, tls_key=args.tls_key,
               public_port=args.public_port, apply_service=not args.no_apply_service)


def _fair_serve(args: argparse.Namespace) -> int:
    loaded = _load(args.show)
    if loaded is None:
        return 1
    from .public_service import serve

    if bool(args.tls_cert) != bool(args.tls_key):
        print("give both --tls-cert and --tls-key", file=sys.stderr)
        return 2
    return serve(loaded[0], host=args.host, port=args.port, fd=args.fd, tls_cert=args.tls_cert, tls_key=args.tls_key)


def _export(args: argparse.Namespace) -> int:
    loaded = _load(args.show)
    if loaded is None:
        return 1
    if loaded[0].jobfair is None and loaded[0].rundown is not None:
        # A show with a run of show but no fair: its planned vs actual times are all there is to export.
        from .rundown_live import write_export

        for path in write_export(loaded[0], Path(args.out)):
            print(f"已导出 written: {path}")
        return 0
    from .jobfair.export import main as export_main

    return export_main(loaded[0], out_dir=Path(args.out), unmasked=args.unmasked)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="stream-ops", description="Livestream and online job-fair orchestration.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("validate", help="check a show file and say exactly which line is wrong")
    p.add_argument("show", metavar="SHOW.yaml")
    p.set_defaults(func=_validate)

    p = sub.add_parser("schema", help="print the show file's JSON Schema (for editors)")
    p.set_defaults(func=_schema)

    p = sub.add_parser("run", help="check the show file, then run the show and its control panel")
    p.add_argument("show", metavar="SHOW.yaml")
    p.add_argument("--host", default="127.0.0.1", help="address the panel listens on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="panel port (default 8080)")
    p.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate (phone browsers only open the camera over HTTPS)")
    p.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    p.add_argument("--public-port", type=int, metavar="PORT",
                   help="port of the public apply service (default: the fair's apply.port, 8000)")
    p.add_argument("--no-apply-service", action="store_true",
                   help="do not start the public apply service here (it runs elsewhere: stream-ops fair serve)")
    p.set_defaults(func=_run)

    fair = sub.add_parser("fair", help="the job fair's public side")
    fair_sub = fair.add_subparsers(dest="fair_command", required=True, metavar="ACTION")
    p = fair_sub.add_parser("serve", help="serve the apply form, withdraw and visit counting on their own "
                                          "(no operator routes, no media)")
    p.add_argument("show", metavar="SHOW.yaml")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: the fair's apply.port, 8000)")
    p.add_argument("--fd", type=int, help=argparse.SUPPRESS)   # a socket `stream-ops run` already listens on
    p.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS with this certificate")
    p.add_argument("--tls-key", metavar="PEM", help="the certificate's private key")
    p.set_defaults(func=_fair_serve)

    p = sub.add_parser("export", help="write the job fair's numbers (viewers, applications) to a folder")
    p.add_argument("show", metavar="SHOW.yaml")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write into")
    p.add_argument("--unmasked", action="store_true", help="include applicants' full phone numbers and names")
    p.set_defaults(func=_export)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `stream-ops` and `python -m stream_ops`; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return int(args.func(args) or 0)
