"""Kinds are declared once (stream_ops.kinds); schema, validation, classes and docs follow."""
from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from stream_ops import kinds
from stream_ops.config import LayerConfig, OutputConfig, SourceConfig
from stream_ops.outputs import Output, output_class
from stream_ops.overlays import Overlay, overlay_class
from stream_ops.problems import ShowFileError
from stream_ops.showfile import check_show_text
from stream_ops.sources import Source, source_class

ROOT = Path(__file__).resolve().parents[1]
SHOWFILE_MD = ROOT / "docs" / "showfile.md"


def test_docs_key_tables_match_the_declarations() -> None:
    text = SHOWFILE_MD.read_text(encoding="utf-8")
    assert kinds.BLOCK.findall(text), "docs/showfile.md lost its <!-- kinds:... --> blocks"
    assert kinds.render_doc(text) == text, "run: python -m stream_ops.kinds --write docs/showfile.md"


def test_every_block_is_in_the_docs() -> None:
    text = SHOWFILE_MD.read_text(encoding="utf-8")
    assert {m.group(2) for m in kinds.BLOCK.finditer(text)} == set(kinds.SECTIONS)


@pytest.mark.parametrize("section, base, lookup", [
    ("sources", Source, source_class), ("outputs", Output, output_class), ("layers", Overlay, overlay_class),
])
def test_every_kind_has_its_class(section, base, lookup) -> None:
    for name, kind in kinds.section(section).kinds.items():
        if kind.impl is None:
            continue   # source layers: drawn by the compositor itself
        assert issubclass(lookup(name), base), name


def test_an_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown source kind 'nope'"):
        source_class("nope")


@pytest.mark.parametrize("section, cls", [("sources", SourceConfig), ("outputs", OutputConfig), ("layers", LayerConfig)])
def test_declared_defaults_are_the_config_defaults(section, cls) -> None:
    """The docs show a key's declared default; the config must really use it."""
    defaults = {f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING}
    sec = kinds.section(section)
    for key in sec.common + tuple(k for kind in sec.kinds.values() for k in kind.keys):
        if key.name in defaults and key.default is not None and not (isinstance(key.default, str) and " " in key.default):
            assert defaults[key.name] == key.default, f"{section}.{key.name}"


def test_validation_and_the_schema_do_not_import_aiortc() -> None:
    """Phones are declared by a module path; aiortc loads only when a show has phones."""
    code = ("import sys; from stream_ops.schema import show_schema; from stream_ops.kinds import section; "
            "show_schema(); section('sources'); assert 'aiortc' not in sys.modules, 'aiortc imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# ------------------------------------------------------------ a new kind is one file

NEW_KIND = '''
from stream_ops.kinds import Key, Kind, integer

KINDS = (Kind("sources", "fancy", "a made-up kind", impl="stream_ops.sources.generated:ColorSource",
              example="f: {kind: fancy, speed: 3}",
              keys=(Key("speed", integer("How fast.", 1, 5), required=True),)),)
'''


@pytest.fixture
def fancy_kind(tmp_path, monkeypatch):
    """A sources package with the real kinds plus one more, declared in one new file."""
    pkg = tmp_path / "moresources"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from stream_ops.sources import COMMON_KEYS\n"
                                     "from stream_ops.sources.generated import KINDS\n")
    (pkg / "fancy.py").write_text(NEW_KIND)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(kinds.HOMES, "sources", "moresources")
    kinds.section.cache_clear()
    yield
    kinds.section.cache_clear()


def show(source: str) -> str:
    return textwrap.dedent(f"""\
        sources:
          s: {source}
        scenes:
          one: {{layers: [{{source: s}}]}}
        """)


def problems(text: str, tmp_path: Path) -> list[str]:
    with pytest.raises(ShowFileError) as err:
        check_show_text(text, "show.yaml", env={}, base_dir=tmp_path)
    return err.value.lines


def test_a_kind_in_one_new_file_is_validated_built_and_documented(fancy_kind, tmp_path) -> None:
    config, _ = check_show_text(show("{kind: fancy, speed: 3}"), tmp_path / "show.yaml", env={})
    assert config.sources["s"].kind == "fancy" and config.sources["s"].options == {"speed": 3}
    assert source_class("fancy").__name__ == "ColorSource"
    assert "| `fancy` | a made-up kind |" in kinds.markdown("sources")


def test_a_new_kind_gets_the_same_messages(fancy_kind, tmp_path) -> None:
    assert problems(show("{kind: fancy, speed: 9}"), tmp_path) == [
        "show.yaml:2:27: 'speed' in source 's' must be at most 5, got 9"]
    assert problems(show("{kind: fancy, sped: 3}"), tmp_path) == [
        "show.yaml:2:3: source 's' needs 'speed'",
        "show.yaml:2:20: unknown key 'sped' in source 's' (did you mean 'speed'?)"]
    assert problems(show('{kind: color, color: "#ff0000", speed: 3}'), tmp_path) == [
        "show.yaml:2:38: unknown key 'speed' in source 's': 'speed' is for fancy sources, not color ones"]
    (line,) = problems(show("{kind: fancyy}"), tmp_path)
    assert "must be one of: image, test, color, fancy" in line and "(did you mean 'fancy'?)" in line


# ------------------------------------------------------------ layers: each kind's own keys

def layer_show(layer: str) -> str:
    return f"sources:\n  s: {{kind: test}}\nscenes:\n  one:\n    layers:\n      - {layer}\n"


@pytest.mark.parametrize("layer, message", [
    ("{text: hi, crop: [0, 0, 0, 0]}",
     "show.yaml:6:20: unknown key 'crop' in layer 1 of scene 'one': 'crop' is for source layers, not text ones"),
    ("{source: s, size: 30}",
     "show.yaml:6:21: unknown key 'size' in layer 1 of scene 'one': 'size' is for text layers, not source ones"),
    ('{color: "#ffffff", align: left}',
     "show.yaml:6:28: unknown key 'align' in layer 1 of scene 'one': 'align' is for text layers, not color ones"),
    ("{source: s, fitt: cover}",
     "show.yaml:6:21: unknown key 'fitt' in layer 1 of scene 'one' (did you mean 'fit'?)"),
])
def test_a_layer_takes_only_its_kinds_keys(layer: str, message: str, tmp_path: Path) -> None:
    assert problems(layer_show(layer), tmp_path) == [message]


@pytest.mark.parametrize("layer", [
    '{text: hi, color: "#ff0000", background: "#00000080", size: 30, align: center, opacity: 0.5}',
    '{qr: "{{ apply_url }}", background: "#ffffff", rect: [0, 0, 100, 100]}',
    '{source: s, crop: [0.1, 0, 0.1, 0], fit: cover}',
    '{jobcard: true, background: "#000000"}',
])
def test_a_layer_with_its_own_keys_passes(layer: str, tmp_path: Path) -> None:
    check_show_text(layer_show(layer), "show.yaml", env={}, base_dir=tmp_path)


def test_a_shared_kind_key_is_refused_where_it_means_nothing(tmp_path: Path) -> None:
    assert problems(layer_show('{qr: "{{ apply_url }}", color: "#ff0000"}'), tmp_path) == [
        "show.yaml:6:33: unknown key 'color' in layer 1 of scene 'one': 'color' is for text/color layers, not qr ones"]
