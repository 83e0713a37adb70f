"""Schemathesis against a live `stream-ops run`: every operator, phone and public route,
generated from `/api/openapi.json` itself. No 5xx, every status, content type and JSON
answer as documented.

The studio's routes are fuzzed on the studio's port with the operator token; the
public routes on the apply service's port. `STREAM_OPS_FUZZ_EXAMPLES` raises the
number of cases per operation (default 25) for a longer hunt.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from peers import ShowProcess, wait_until
from shows import fair_show

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def schemathesis(spec: Path, base: str, *extra: str) -> tuple[int, str]:
    examples = os.environ.get("STREAM_OPS_FUZZ_EXAMPLES", "25")
    cmd = [str(Path(sys.executable).parent / "schemathesis"), "run", str(spec), "-u", base, "--checks", CHECKS,
           "--max-examples", examples, "-w", "1", "--seed", "1", "--no-color", *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=spec.parent,
                          env={**os.environ, "SCHEMATHESIS_HOOKS": ""})
    return done.returncode, done.stdout + done.stderr


def generated(report: str) -> int:
    found = re.search(r"(\d+) generated", report)
    return int(found.group(1)) if found else 0


@pytest.mark.slow
def test_fuzzing_every_route_finds_no_5xx_and_no_undocumented_answer(tmp_path: Path) -> None:
    # A generous rate limit, so the fuzzer's cases reach the form's logic rather than the 429.
    show = ShowProcess(tmp_path, fair_show(tmp_path, "模糊测试", rate_per_minute=100_000))
    try:
        wait_until(lambda: show.request("GET", "/healthz", public=True)[0] == 200, timeout=20, message="apply service")
        doc = httpx.get(f"http://127.0.0.1:{show.port}/api/openapi.json",
                        headers={"Authorization": f"Bearer {show.token}"}).json()
        studio_doc = {**doc, "paths": {p: ops for p, ops in doc["paths"].items()
                                       if not any("public" in op["tags"] for op in ops.values())}}
        public_doc = {**doc, "paths": {p: ops for p, ops in doc["paths"].items()
                                       if all("public" in op["tags"] for op in ops.values())}}
        (tmp_path / "studio.json").write_text(json.dumps(studio_doc), encoding="utf-8")
        (tmp_path / "public.json").write_text(json.dumps(public_doc), encoding="utf-8")
        code_s, studio = schemathesis(tmp_path / "studio.json", f"http://127.0.0.1:{show.port}",
                                      "-H", f"Authorization: Bearer {show.token}")
        code_p, public = schemathesis(tmp_path / "public.json", f"http://127.0.0.1:{show.public_port}")
        counts = f"studio: {generated(studio)} cases, public: {generated(public)} cases"
        print(f"\nschemathesis — {counts}; {len(studio_doc['paths'])} + {len(public_doc['paths'])} paths")
        assert code_s == 0, studio[-6000:]
        assert code_p == 0, public[-6000:]
        assert generated(studio) > 500 and generated(public) > 50, counts
        log = show.log()
        assert "Traceback" not in log and "internal error" not in log, log[-4000:]
    finally:
        show.stop()
