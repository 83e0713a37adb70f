"""Kinds of sources, outputs and layers, each declared once, next to the code that does it.

A module that implements a kind declares it in a module-level `KINDS` tuple:

    KINDS = (Kind("sources", "color", "a solid colour", impl=ColorSource, example='red: {kind: color, ...}',
                  keys=(Key("color", color("Fill colour. 纯色。"), required=True, default="#000000"),)),)

Every module of `stream_ops.sources` and `stream_ops.outputs`, and `stream_ops.overlays`
for layers, is read for `KINDS`; the keys every kind of a section has are that home's
`COMMON_KEYS`. From these declarations come the show file's JSON Schema (`schema.py`),
the allowed keys and did-you-mean of validation (`showfile.py`), the runtime classes
(`implementation`) and the key tables of docs/showfile.md (`python -m stream_ops.kinds`).
This module imports no kind module until asked, and a kind may name its class by
"module:Class" so that heavy imports (aiortc for phones) happen only when a show uses it.
"""
from __future__ import annotations

import argparse
import functools
import importlib
import pkgutil
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

SECTIONS = ("sources", "outputs", "layers")
NOUN = {"sources": "source", "outputs": "output", "layers": "layer"}
# Where each section's kinds are declared: every module of a package, or one module.
HOMES = {"sources": "stream_ops.sources", "outputs": "stream_ops.outputs", "layers": "stream_ops.overlays"}

# ---------------------------------------------------------------- schema fragments kinds are declared with

COLOR_PATTERN = r"^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$"
COLOR_MESSAGE = 'must be a colour like "#ff0000" (#rrggbb) or "#00000080" (#rrggbbaa, the last two digits are opacity)'


def color(description: str) -> dict[str, Any]:
    """A `#rrggbb` / `#rrggbbaa` colour."""
    return {"type": "string", "pattern": COLOR_PATTERN, "errorMessage": COLOR_MESSAGE, "title": "colour",
            "description": description, "examples": ["#ffffff", "#00000080"]}


RECT: dict[str, Any] = {
    "type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 4,
    "title": "[x, y, w, h]",
    "description": "[x, y, w, h] in canvas pixels, from the top-left corner. 画面坐标：左上角 x, y，宽 w，高 h（像素）。",
    "errorMessage": "must be four whole numbers [x, y, w, h], e.g. rect: [880, 40, 360, 202]",
    "examples": [[880, 40, 360, 202]],
}


def integer(description: str, minimum: int | None = None, maximum: int | None = None, **extra: Any) -> dict[str, Any]:
    """A whole number, optionally bounded."""
    schema: dict[str, Any] = {"type": "integer", "description": description, **extra}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


def text(description: str, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "description": description, **extra}


def boolean(description: str) -> dict[str, Any]:
    return {"type": "boolean", "description": description}


def choice(values: list[Any], description: str) -> dict[str, Any]:
    return {"enum": list(values), "description": description}


# ---------------------------------------------------------------- declarations

@dataclass(frozen=True)
class Key:
    """One key of a kind: its JSON Schema fragment (whose `description` is its help text) and its rules."""

    name: str
    schema: dict[str, Any]
    required: bool = False
    default: Any = None             # what an absent key means; shown in the docs
    file: bool = False              # a path relative to the show file's folder: must exist; resolved when built
    secret: bool = False            # may hold a secret: never echoed in messages, a `Secret` when it held ${VAR}
    live: bool = False              # the operator can change it while the show runs
    load: Callable[[Any], Any] | None = None   # from the YAML value to the config's value (e.g. a list → Rect)

    @property
    def description(self) -> str:
        return str(self.schema.get("description", ""))


@dataclass(frozen=True)
class Kind:
    """A kind of source, output or layer: its keys, its class, and how the docs show it."""

    section: str
    name: str
    summary: str                    # one line: what it is (docs, and the `kind:` key's help)
    keys: tuple[Key, ...] = ()
    impl: Any = None                # the class, or "package.module:Class" imported on first use; None: built in
    example: str = ""               # a YAML line for the docs

    def cls(self) -> Any:
        """The class that implements this kind (imported now when named by a string)."""
        if isinstance(self.impl, str):
            module, _, attr = self.impl.partition(":")
            return getattr(importlib.import_module(module), attr)
        return self.impl

    def key(self, name: str) -> Key | None:
        return next((k for k in self.keys if k.name == name), None)


@dataclass(frozen=True)
class Section:
    """All kinds of one section (sources, outputs or layers) and the keys they share."""

    name: str
    common: tuple[Key, ...]
    kinds: dict[str, Kind]

    def keys_of(self, kind: str) -> tuple[Key, ...]:
        """Every key a `kind` item may have: the common ones, then its own."""
        return self.common + self.kinds[kind].keys

    def kinds_with_key(self, name: str) -> list[str]:
        return [k.name for k in self.kinds.values() if k.key(name) is not None]

    def all_keys(self) -> dict[str, Key]:
        """Every key any kind has, first declaration wins (the union the layer schema allows)."""
        out: dict[str, Key] = {}
        for key in self.common + tuple(k for kind in self.kinds.values() for k in kind.keys):
            out.setdefault(key.name, key)
        return out

    def key(self, kind: str | None, name: str) -> Key | None:
        """The declaration of key `name` for an item of `kind` (any kind's when `kind` is unknown)."""
        if kind in self.kinds:
            return next((k for k in self.keys_of(kind) if k.name == name), None)
        return self.all_keys().get(name)

    def shared_kind_keys(self) -> set[str]:
        """Layers: kind keys that other kinds also have (`color`: a text's colour)."""
        return {k.name for kind in self.kinds.values() for k in kind.keys if k.name != kind.name and k.name in self.kinds}

    def layer_kind_keys(self) -> list[str]:
        """Layers: the keys that say a layer's kind, in the order they decide it. A shared
        kind key names the kind only when it is alone, so it comes last."""
        shared = self.shared_kind_keys()
        return [n for n in self.kinds if n not in shared] + [n for n in self.kinds if n in shared]


@functools.cache
def section(name: str) -> Section:
    """The kinds of `name` ('sources', 'outputs' or 'layers'), read from their modules."""
    home = importlib.import_module(HOMES[name])
    modules = [home]
    if hasattr(home, "__path__"):
        modules += [importlib.import_module(f"{home.__name__}.{m.name}") for m in pkgutil.iter_modules(home.__path__)]
    kinds: dict[str, Kind] = {}
    for module in modules:
        for kind in getattr(module, "KINDS", ()):
            if kind.section != name:
                raise TypeError(f"{module.__name__} declares {kind.section} kind {kind.name!r} among {name}")
            if kind.name in kinds:
                raise ValueError(f"{name} kind {kind.name!r} is declared twice (again in {module.__name__})")
            kinds[kind.name] = kind
    return Section(name, tuple(getattr(home, "COMMON_KEYS", ())), kinds)


def implementation(section_name: str, kind: str) -> Any:
    """The class of a kind, for the engine (`source_class`, `output_class`) and the compositor."""
    try:
        declared = section(section_name).kinds[kind]
    except KeyError:
        raise ValueError(f"unknown {NOUN[section_name]} kind {kind!r}") from None
    return declared.cls()


# ---------------------------------------------------------------- docs/showfile.md tables

def type_words(schema: dict[str, Any], file: bool = False) -> str:
    """How the docs name a key's type: `true/false`, `1..60`, `user, environment`, `colour`."""
    if file:
        return "path"
    if "title" in schema:
        return str(schema["title"])
    if "enum" in schema:
        return ", ".join(str(v) for v in schema["enum"])
    kind = schema.get("type")
    lo, hi = schema.get("minimum"), schema.get("maximum")
    if kind in ("integer", "number") and (lo is not None or hi is not None):
        return f"{'' if lo is None else lo}..{'' if hi is None else hi}"
    return {"boolean": "true/false", "integer": "whole number", "number": "number", "string": "text",
            "array": "list"}.get(str(kind), str(kind))


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _default(key: Key) -> str:
    if key.required:
        return "(required)"
    value = key.default
    if value is None:
        return "—"
    if isinstance(value, str) and " " in value:
        return value        # words, not a value: "the name"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value:g}`" if isinstance(value, float) else f"`{value}`"


def markdown(section_name: str) -> str:
    """The key tables of one section, as they stand in docs/showfile.md."""
    return _layer_tables() if section_name == "layers" else _kind_tables(section_name)


def _layer_tables() -> str:
    """Layers: one row per key (common keys first, then the kind keys), then one per kind."""
    sec = section("layers")
    rows = ["| key | for | type | default | meaning |", "|---|---|---|---|---|"]
    for key in sec.common:
        rows.append(f"| `{key.name}` | all | {_cell(type_words(key.schema))} | {_default(key)} | {_cell(key.description)} |")
    names = sec.layer_kind_keys() + [k.name for kind in sec.kinds.values() for k in kind.keys]
    for name in dict.fromkeys(names):
        used_by = sec.kinds_with_key(name)
        declared = [d for d in (sec.kinds[k].key(name) for k in used_by) if d is not None]
        meaning = " ".join(dict.fromkeys(d.description for d in declared))
        default = next((_default(d) for d in declared if not d.required), "—")
        marks = " (says the kind)" if name in sec.kinds else ""
        rows.append(f"| `{name}`{marks} | {', '.join(used_by)} | {_cell(type_words(declared[0].schema, declared[0].file))} "
                    f"| {default} | {_cell(meaning)} |")
    rows += ["", "| layer | draws | example |", "|---|---|---|"]
    rows += [f"| {k.name} | {_cell(k.summary)} | `{_cell(k.example)}` |" for k in sec.kinds.values()]
    return "\n".join(rows)


def _kind_tables(section_name: str) -> str:
    """Sources, outputs: the keys every item has, then each kind with its own keys."""
    sec = section(section_name)
    rows = [f"Every {NOUN[section_name]} has `kind:` and may have:", "",
            "| key | type | default | live | meaning |", "|---|---|---|---|---|"]
    for key in sec.common:
        rows.append(f"| `{key.name}` | {_cell(type_words(key.schema))} | {_default(key)} | {'yes' if key.live else ''} "
                    f"| {_cell(key.description)} |")
    rows += ["", "Keys of each kind (a key of another kind is an error that says which kind it belongs to):", "",
             "| kind | what | keys | example |", "|---|---|---|---|"]
    for kind in sec.kinds.values():
        keys = "; ".join(f"`{k.name}` ({type_words(k.schema, k.file)}, {_default(k).strip('()')}): {k.description}"
                         for k in kind.keys) or "—"
        rows.append(f"| `{kind.name}` | {_cell(kind.summary)} | {_cell(keys)} | `{_cell(kind.example)}` |")
    return "\n".join(rows)


BLOCK = re.compile(r"(<!-- kinds:(\w+) -->\n)(?:.*?\n)?(<!-- /kinds:\2 -->)", re.S)


def render_doc(text: str) -> str:
    """`text` with every `<!-- kinds:SECTION -->` block regenerated from the declarations."""
    return BLOCK.sub(lambda m: m.group(1) + markdown(m.group(2)) + "\n" + m.group(3), text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stream_ops.kinds",
                                     description="Print or refresh the key tables of docs/showfile.md.")
    parser.add_argument("--markdown", choices=SECTIONS, help="print one section's tables")
    parser.add_argument("--write", type=Path, metavar="FILE", help="regenerate the kinds blocks of FILE in place")
    parser.add_argument("--check", type=Path, metavar="FILE", help="exit 1 when FILE's kinds blocks are out of date")
    args = parser.parse_args(argv)
    if args.markdown:
        print(markdown(args.markdown))
    for path, write in ((args.write, True), (args.check, False)):
        if path is None:
            continue
        old = path.read_text(encoding="utf-8")
        new = render_doc(old)
        if write:
            path.write_text(new, encoding="utf-8")
        elif new != old:
            print(f"{path}: key tables out of date; run python -m stream_ops.kinds --write {path}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
