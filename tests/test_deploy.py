"""The deployment files say what works: the compose services run commands our CLI takes,
with the show file they mount, and the image's volumes are where the example shows write."""
from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from stream_ops.cli import build_parser
from stream_ops.showfile import load_show

ROOT = Path(__file__).resolve().parent.parent


def test_compose_services_run_real_commands_on_a_valid_show(tmp_path: Path, monkeypatch) -> None:
    compose = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"db", "apply", "studio"}
    apply_args = build_parser().parse_args(services["apply"]["command"])
    studio_args = build_parser().parse_args(services["studio"]["command"])
    assert apply_args.func.__name__ == "_fair_serve" and apply_args.host == "0.0.0.0"
    assert studio_args.func.__name__ == "_run" and studio_args.no_apply_service   # the apply service is its own
    assert "8000:8000" in services["apply"]["ports"] and "8080:8080" in services["studio"]["ports"]
    for name in ("apply", "studio"):   # secrets only from the environment
        assert all(str(v).startswith("${") or not k.endswith(("TOKEN", "PASSWORD"))
                   for k, v in services[name]["environment"].items())
    # The show they mount validates (with the password in the environment) and stores its fair in PostgreSQL.
    (tmp_path / "scenes").mkdir()
    shutil.copytree(ROOT / "scenes" / "fair", tmp_path / "scenes" / "fair")
    shutil.copy(ROOT / "docker" / "fair-show.yaml", tmp_path / "scenes" / "fair-show.yaml")
    monkeypatch.setenv("FAIR_DB_PASSWORD", "s3cret")
    config, _ = load_show(tmp_path / "scenes" / "fair-show.yaml")
    assert config.jobfair is not None and "postgresql://" in str(config.jobfair.store.reveal())
    assert "s3cret" not in repr(config.jobfair)


def test_image_volumes_hold_what_the_example_shows_write() -> None:
    dockerfile = (ROOT / "docker" / "Dockerfile").read_text(encoding="utf-8")
    assert "USER stream" in dockerfile and "HEALTHCHECK" in dockerfile
    assert 'VOLUME ["/srv/data", "/srv/recordings"]' in dockerfile and "WORKDIR /srv" in dockerfile
    # Shows live in /srv/scenes and write to ../data and ../recordings: the two volumes.
    for show in ("demo.yaml", "jobfair.yaml"):
        text = (ROOT / "scenes" / show).read_text(encoding="utf-8")
        assert "data_dir: ../data/" in text and '"../recordings/' in text
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", "data/", "recordings/"} <= set(ignored)
