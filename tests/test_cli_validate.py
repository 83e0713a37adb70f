"""`stream-ops validate` and `stream-ops schema` as a producer runs them."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    run_env = {k: v for k, v in os.environ.items() if k not in ("CHANNELS_KEY", "DOUYIN_KEY")}
    run_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "stream_ops", *args], cwd=ROOT, env=run_env,
                          capture_output=True, text=True, timeout=60)


def test_validate_full_example_ok():
    res = cli("validate", "scenes/examples/full.yaml", env={"CHANNELS_KEY": "sk-secret-123"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout == "ok: scenes/examples/full.yaml — 8 sources, 4 scenes, 3 outputs\n"
    assert "sk-secret-123" not in res.stdout + res.stderr


def test_validate_broken_example_lists_every_problem():
    res = cli("validate", "scenes/examples/broken.yaml")
    assert res.returncode == 1
    assert "Traceback" not in res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert "scenes/examples/broken.yaml:9:3: duplicate source name 'cam1' (first at line 8); give each a different name" in lines
    assert "scenes/examples/broken.yaml:10:22: unknown key 'lisen' in source 'cam2' (did you mean 'listen'?)" in lines
    assert 'scenes/examples/broken.yaml:4:42: expected a whole number for \'fps\' in show.video, got "thirty"' in lines
    assert any(l.startswith("scenes/examples/broken.yaml:24:71: warning: write key:") for l in lines)
    assert lines[-1].endswith(" problems")
    assert len(lines) >= 20


def test_validate_missing_file():
    res = cli("validate", "no/such/show.yaml")
    assert res.returncode == 1
    assert res.stdout == "no/such/show.yaml: no such file\n"


def test_usage_error_exit_2():
    assert cli("validate").returncode == 2


def test_schema_prints_json():
    res = cli("schema")
    assert res.returncode == 0
    schema = json.loads(res.stdout)
    assert schema["$schema"].endswith("2020-12/schema")
    assert "招聘会" in res.stdout   # ensure_ascii=False


def test_run_refuses_a_broken_file_before_importing_the_runner():
    res = cli("run", "scenes/examples/broken.yaml", "--port", "18080")
    assert res.returncode == 1 and "Traceback" not in res.stderr


def test_main_in_process(capsys, monkeypatch):
    from stream_ops.cli import main

    monkeypatch.setenv("CHANNELS_KEY", "k")
    assert main(["validate", str(ROOT / "scenes/examples/full.yaml")]) == 0
    assert capsys.readouterr().out.startswith("ok: ")


def test_validate_jobfair_example_with_its_portrait_canvas_ok():
    res = cli("validate", "scenes/jobfair.yaml")
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("ok: scenes/jobfair.yaml")


def test_validate_canvas_problems_at_their_lines(tmp_path):
    show = tmp_path / "show.yaml"
    show.write_text(
        "show:\n"
        "  video: {width: 1280, height: 720}\n"
        "  canvases:\n"
        "    portrait: {width: 720, height: 1280}\n"
        "sources:\n"
        "  cam: {kind: test}\n"
        "scenes:\n"
        "  host:\n"
        "    layers: [{source: cam}]\n"
        "    layouts:\n"
        "      portrait: [{source: cam, rect: [0, 0, 1280, 720]}]\n"
        "      vertical: [{source: cam}]\n"
        "outputs:\n"
        "  douyin: {kind: file, path: x.ts, canvas: portait}\n", encoding="utf-8")
    res = cli("validate", str(show))
    assert res.returncode == 1 and "Traceback" not in res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert any(l.startswith(f"{show}:11:38: rect [0, 0, 1280, 720] goes 560 px past the right edge of the 720x1280")
               and l.endswith("(x + w = 1280; make w at most 720)")
               for l in lines), lines
    assert any(l.startswith(f"{show}:12:7: no canvas named 'vertical'") for l in lines), lines
    assert any(l.startswith(f"{show}:14:44: no canvas named 'portait' (did you mean 'portrait'?)") for l in lines), lines
