"""Load a show file: YAML with positions -> schema -> semantic checks -> ShowConfig.

Every problem found is reported at once as `FILE:LINE:COL: message`, in the
producer's words, saying what to write instead.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping
from urllib.parse import urlsplit

import yaml
from jsonschema import Draft202012Validator, ValidationError

from .config import (ISO_DEFAULT_PATH, ISO_KINDS, MAIN_CANVAS, AudioSettings, CanvasConfig, IceServer, IsoConfig, LayerConfig, OutputConfig,
                     Rect, SceneConfig, Secret, ShowConfig, SourceConfig, VideoSettings)
from .geometry import canvas_rect, grid_rects, rect_overflow
from .kinds import Key, section
from .problems import Problem, ShowFileError, YamlPath
from .rundown import check_rundown
from .schema import show_schema

ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
SECTION_NOUN = {"sources": "source", "scenes": "scene", "outputs": "output"}
DEFAULT_VIDEO = VideoSettings()


@dataclass(frozen=True)
class Pos:
    """1-based line/column of a value, and of its key when it has one."""

    line: int
    col: int
    key_line: int | None = None
    key_col: int | None = None


@dataclass
class YamlDoc:
    """Plain data from YAML plus where each part of it was written."""

    data: Any
    positions: dict[YamlPath, Pos] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    pinned: list[tuple[int, int, Problem]] = field(default_factory=list)   # problems with their own line, col

    def locate(self, path: YamlPath, key: bool = False) -> tuple[int, int]:
        """Line and column for `path`; a missing path points at its nearest written parent's key."""
        probe = tuple(path)
        while probe not in self.positions and probe:
            probe, key = probe[:-1], True
        pos = self.positions.get(probe, Pos(1, 1))
        if key and pos.key_line is not None:
            return pos.key_line, pos.key_col or 1
        return pos.line, pos.col


class _Syntax(Exception):
    def __init__(self, line: int, col: int, message: str) -> None:
        super().__init__(message)
        self.line, self.col, self.message = line, col, message


# ---------------------------------------------------------------- YAML with positions

def parse_yaml(text: str) -> YamlDoc:
    """Compose `text` (safe YAML) into plain data and a position map. Raises `_Syntax`."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        raise _Syntax(mark.line + 1 if mark else 1, mark.column + 1 if mark else 1,
                      f"YAML syntax error: {message}{_syntax_hint(text, mark)}") from None
    except yaml.YAMLError as exc:
        raise _Syntax(1, 1, f"YAML syntax error: {exc}") from None
    doc = YamlDoc(None)
    if node is not None:
        doc.positions[()] = _pos(node)
        doc.data = _build(node, (), doc, yaml.constructor.SafeConstructor())
    return doc


def _syntax_hint(text: str, mark: Any) -> str:
    if mark is None:
        return ""
    lines = text.splitlines()
    line = lines[mark.line] if mark.line < len(lines) else ""
    if "\t" in line[: mark.column + 1]:
        return " (indent with spaces, not tabs)"
    if re.search(r":\S", line) and "://" not in line:
        return " (put a space after each ':')"
    return ""


def _pos(node: yaml.Node, key: yaml.Node | None = None) -> Pos:
    m = node.start_mark
    if key is None:
        return Pos(m.line + 1, m.column + 1)
    return Pos(m.line + 1, m.column + 1, key.start_mark.line + 1, key.start_mark.column + 1)


def _build(node: yaml.Node, path: YamlPath, doc: YamlDoc, constructor: yaml.constructor.SafeConstructor) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in _merged_pairs(node):
            if not isinstance(key_node, yaml.ScalarNode):
                doc.problems.append(Problem(path, "a key must be a plain name, not a list or mapping", key=True))
                continue
            name = key_node.value
            child = path + (name,)
            if name in out:
                # The position map keeps the first; this problem carries the second's place itself.
                doc.pinned.append((key_node.start_mark.line + 1, key_node.start_mark.column + 1, Problem(
                    child, f"duplicate {_noun_for(path)} '{name}' (first at line {first_line[name]}); "
                           "give each a different name", key=True)))
                continue
            first_line[name] = key_node.start_mark.line + 1
            doc.positions[child] = _pos(value_node, key_node)
            out[name] = _build(value_node, child, doc, constructor)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            doc.positions[path + (i,)] = _pos(item)
            items.append(_build(item, path + (i,), doc, constructor))
        return items
    try:
        value = constructor.construct_object(node)
    except yaml.constructor.ConstructorError as exc:
        doc.problems.append(Problem(path, f"cannot read this value: {exc.problem}; write plain text, a number, "
                                          "true/false, a list or a mapping"))
        return None
    if not isinstance(value, (str, int, float, bool)) and value is not None:
        return node.value   # dates, binary...: keep the text as written, as JSON-minded editors do
    if isinstance(value, (int, float)) and not isinstance(value, bool) and ":" in node.value:
        return node.value   # YAML 1.1 reads 14:30 as base 60 (870); a producer means the clock time
    return value


def _merged_pairs(node: yaml.MappingNode) -> list[tuple[yaml.Node, yaml.Node]]:
    """The mapping's pairs with `<<: *anchor` merges applied (explicit keys win)."""
    own, merged = [], []
    for key_node, value_node in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for src in sources:
                if isinstance(src, yaml.MappingNode):
                    merged.extend(_merged_pairs(src))
        else:
            own.append((key_node, value_node))
    names = {k.value for k, _ in own if isinstance(k, yaml.ScalarNode)}
    return own + [(k, v) for k, v in merged if not (isinstance(k, yaml.ScalarNode) and k.value in names)]


def _noun_for(path: YamlPath) -> str:
    if len(path) == 1 and path[0] in SECTION_NOUN:
        return f"{SECTION_NOUN[path[0]]} name"
    return "key"


# ---------------------------------------------------------------- environment

def expand_env(data: Any, env: Mapping[str, str], problems: list[Problem],
               path: YamlPath = ()) -> tuple[Any, set[YamlPath]]:
    """Substitute `${NAME}` in every string value; return the new data and the paths that held a reference."""
    refs: set[YamlPath] = set()

    def walk(value: Any, at: YamlPath) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, at + (k,)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, at + (i,)) for i, v in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            refs.add(at)
            for name in ENV_REF.findall(value):
                if name not in env:
                    problems.append(Problem(at, f"environment variable {name} is not set; export it before running, "
                                                "never write the key in the file"))
            return ENV_REF.sub(lambda m: env.get(m.group(1), m.group(0)), value)
        return value

    return walk(data, path), refs


# ---------------------------------------------------------------- schema errors -> messages

_TYPE_WORDS = {"integer": "a whole number", "number": "a number", "string": "text", "boolean": "true or false",
               "array": "a list", "object": "a mapping (key: value lines)", "null": "nothing"}


def _is_layer(path: YamlPath) -> bool:
    """Whether `path` is a layer of a scene: `scenes.S.layers[i]` or `scenes.S.layouts.C[i]`."""
    if not path or path[0] != "scenes":
        return False
    return (len(path) == 4 and path[2] == "layers" and isinstance(path[3], int)) or (
        len(path) == 5 and path[2] == "layouts" and isinstance(path[4], int))


def _where(path: YamlPath) -> str:
    """The producer's name for the thing at `path`."""
    if not path:
        return "the top level"
    if path[0] in SECTION_NOUN and len(path) >= 2:
        base = f"{SECTION_NOUN[path[0]]} '{path[1]}'"
        rest = path[2:]
        if path[0] == "scenes" and len(rest) >= 2 and rest[0] == "layers" and isinstance(rest[1], int):
            base, rest = f"layer {rest[1] + 1} of scene '{path[1]}'", rest[2:]
        elif path[0] == "scenes" and len(rest) >= 3 and rest[0] == "layouts" and isinstance(rest[2], int):
            base, rest = f"layer {rest[2] + 1} of scene '{path[1]}' on canvas '{rest[1]}'", rest[3:]
        elif path[0] == "scenes" and rest[:1] == ("grid",):
            base, rest = f"the grid of scene '{path[1]}'", rest[1:]
        return base + "".join(f".{p}" if isinstance(p, str) else f"[{p + 1}]" for p in rest)
    return ".".join(str(p) if isinstance(p, str) else f"[{p + 1}]" for p in path)


def _what(path: YamlPath) -> str:
    """How to name the value at `path` in a sentence: `'fps'`, `source 'cam1'`, `item 3 of 'rect'`."""
    if not path:
        return "the show file"
    last = path[-1]
    if len(path) == 2 and path[0] in SECTION_NOUN:
        return _where(path)
    if _is_layer(path):
        return _where(path)
    if isinstance(last, int):
        return f"item {last + 1} of '{path[-2]}'" if len(path) > 1 else f"item {last + 1}"
    if len(path) >= 2:
        return f"'{last}' in {_where(path[:-1])}"
    return f"'{last}'"


def _got(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    return json.dumps(value, ensure_ascii=False)


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def _lookup(data: Any, path: YamlPath) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def schema_problems(data: Any, raw: Any, skip: set[YamlPath]) -> list[Problem]:
    """Validate against `show_schema()`; one Problem per error, worded for producers.

    `raw` is the data before `${VAR}` substitution: messages quote what the file says,
    never a secret from the environment. Errors at `skip` paths (unset variables) are dropped.
    """
    validator = Draft202012Validator(show_schema())
    problems: list[Problem] = []
    for error in validator.iter_errors(data):
        path = tuple(error.absolute_path)
        if path in skip:
            continue
        problems.extend(_explain(error, path, raw))
    return problems


def _explain(error: ValidationError, path: YamlPath, raw: Any) -> list[Problem]:
    kind = error.validator
    schema = error.schema if isinstance(error.schema, dict) else {}
    value = _lookup(raw, path)
    secret = _is_secret(path, raw)
    got = "" if secret else f", got {_got(value)}"
    what = _what(path)

    if error.schema is False and _is_layer(path):
        return _other_kinds_keys(path, _mapping(_lookup(raw, path)))
    if kind in ("additionalProperties", "unevaluatedProperties"):
        allowed = list(schema.get("properties", {}))
        extras = [k for k in (error.instance or {}) if k not in allowed]
        return [Problem(path + (k,), _unknown_key(k, path, allowed, raw), key=True) for k in extras]
    if kind == "required":
        missing = error.validator_value
        names = [m for m in missing if m not in (error.instance or {})]
        out = []
        for name in names:
            example = (schema.get("properties", {}).get(name, {}).get("examples") or [None])[0]
            hint = f", e.g. {name}: {json.dumps(example, ensure_ascii=False)}" if example is not None else ""
            if not path:
                out.append(Problem((), f"the show file needs a '{name}:' section{hint}"))
            else:
                out.append(Problem(path, f"{_where(path)} needs '{name}'{hint}", key=True))
        return out
    if kind == "oneOf" and _is_layer(path):
        if not isinstance(error.instance, dict):
            return []   # the type error already says it
        kind_keys = section("layers").layer_kind_keys()
        shared = section("layers").shared_kind_keys()
        present = [k for k in kind_keys if k in (error.instance or {}) and k not in shared]
        if not present:
            return [Problem(path, f"{_where(path)} needs one of {', '.join(kind_keys)} to say what it draws, "
                                  "e.g. {source: cam1} or {text: \"...\", rect: [...]}")]
        return [Problem(path, f"{_where(path)} has {' and '.join(present)}; a layer draws one thing — "
                              "split it into one layer each")]
    if kind == "anyOf" and len(path) == 2 and path[0] == "scenes":
        return [Problem(path, f"{_where(path)} needs 'layers' (a list) or 'grid', e.g. layers: [{{source: cam1}}]",
                        key=True)]
    if "errorMessage" in schema and kind != "type" or kind == "pattern":
        message = schema.get("errorMessage") or f"must match {schema.get('pattern')}"
        return [Problem(path, f"{what} {message}{got}")]
    if kind == "type":
        want = error.validator_value
        wants = want if isinstance(want, list) else [want]
        words = " or ".join(_TYPE_WORDS.get(w, w) for w in wants)
        if path and isinstance(path[-1], str) and len(path) != 2:
            label = f"'{path[-1]}'" + (f" in {_where(path[:-1])}" if len(path) > 1 else "")
        else:
            label = what
        hint = ""
        if "integer" in wants and isinstance(value, str) and value.strip().isdigit():
            hint = f" (write {value.strip()} without quotes)"
        elif wants == ["boolean"] and isinstance(value, str):
            hint = " (write true or false without quotes)"
        elif wants == ["object"] and _is_layer(path) and isinstance(value, str):
            hint = f" (write - {{source: {value}}})"
        elif "string" in wants and value is not None and not isinstance(value, (dict, list)):
            hint = " (put it in quotes)"
        return [Problem(path, f"expected {words} for {label}{got}{hint}")]
    if kind == "enum":
        allowed = [str(a) for a in error.validator_value]
        return [Problem(path, f"{what} must be one of: {', '.join(allowed)}{got}{_did_you_mean(value, allowed)}")]
    if kind == "const":
        return [Problem(path, f"{what} must be {json.dumps(error.validator_value)}{got}")]
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        words = {"minimum": "at least", "exclusiveMinimum": "more than",
                 "maximum": "at most", "exclusiveMaximum": "less than"}[kind]
        return [Problem(path, f"{what} must be {words} {error.validator_value}{got}")]
    if kind == "minLength":
        return [Problem(path, f"{what} must not be empty")]
    if kind == "minItems":
        return [Problem(path, f"{what} needs at least {error.validator_value} item(s)")]
    if kind == "multipleOf":
        return [Problem(path, f"{what} must be a multiple of {error.validator_value}{got}")]
    if kind in ("maxItems", "maxLength"):
        return [Problem(path, f"{what} must have at most {error.validator_value} item(s)/character(s)")]
    if kind == "maxProperties":
        return [Problem(path, f"{what} must have at most {error.validator_value} key(s)", key=True)]
    if kind == "uniqueItems":
        return [Problem(path, f"{what} lists the same item twice")]
    detail = "is not valid" if secret else error.message
    return [Problem(path, f"{what}: {detail[:200]}")]


def _is_secret(path: YamlPath, raw: Any) -> bool:
    """Whether the value at `path` is declared as possibly secret (an output's url or key)."""
    if len(path) < 3 or path[0] not in ("sources", "outputs") or not isinstance(path[2], str):
        return False
    declared = section(path[0]).key(_lookup(raw, path[:2] + ("kind",)), path[2])
    return declared is not None and declared.secret


def _other_kinds_keys(path: YamlPath, layer: dict) -> list[Problem]:
    """A layer's keys that belong to other layer kinds (`crop` on a text), each said once.

    jsonschema reports these at the layer without naming the key, so they are found again here."""
    layers = section("layers")
    kind = next((k for k in layers.layer_kind_keys() if k in layer), None)
    if kind is None:
        return []
    allowed = {k.name for k in layers.keys_of(kind)} | (set(layers.kinds) - layers.shared_kind_keys())
    return [Problem(path + (key,), f"unknown key '{key}' in {_where(path)}: '{key}' is for "
                                   f"{'/'.join(layers.kinds_with_key(key))} layers, not {kind} ones", key=True)
            for key in layer if key not in allowed and key in layers.all_keys()]


def _unknown_key(key: str, path: YamlPath, allowed: list[str], raw: Any) -> str:
    message = f"unknown key '{key}' in {_where(path)}"
    if len(path) == 2 and path[0] in ("sources", "outputs"):
        others = section(path[0]).kinds_with_key(key)
        kind = _lookup(raw, path + ("kind",))
        if others and kind not in others:
            noun = SECTION_NOUN[path[0]]
            return f"{message}: '{key}' is for {'/'.join(others)} {noun}s, not {kind} ones"
    return message + _did_you_mean(key, allowed)


# ---------------------------------------------------------------- semantic checks

def _as_rect(value: Any) -> Rect | None:
    if isinstance(value, list) and len(value) == 4 and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return Rect(*value)
    return None


def _canvas(data: dict) -> tuple[int, int]:
    video = _lookup(data, ("show", "video")) or {}
    w, h = video.get("width", DEFAULT_VIDEO.width), video.get("height", DEFAULT_VIDEO.height)
    ok = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (w, h))
    return (w, h) if ok else (DEFAULT_VIDEO.width, DEFAULT_VIDEO.height)


def _mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def semantic_problems(data: dict, base_dir: Path, skip: set[YamlPath], refs: set[YamlPath]) -> list[Problem]:
    """Checks the schema cannot express: names that refer to each other, canvas bounds, files, ports.

    `skip`: paths whose `${VAR}` is unset (already reported); `refs`: paths that held a `${VAR}`.
    """
    problems: list[Problem] = []
    sources = _mapping(data.get("sources"))
    scenes = _mapping(data.get("scenes"))
    width, height = _canvas(data)

    def need_source(name: Any, at: YamlPath) -> None:
        if isinstance(name, str) and name not in sources:
            have = f"sources are: {', '.join(sources)}" if sources else "add it under sources:"
            problems.append(Problem(at, f"no source named '{name}'{_did_you_mean(name, sources)}; {have}"))

    canvases = _canvases(data)

    def check_rect(value: Any, at: YamlPath, size: tuple[int, int] = (width, height)) -> None:
        rect = _as_rect(value)
        if rect is not None:
            problems.extend(Problem(at, f"rect {rect.as_list()} {why}") for why in rect_overflow(rect, *size))

    def need_file(value: Any, at: YamlPath) -> None:
        if isinstance(value, str) and value and at not in skip:
            resolved = (base_dir / value).resolve()
            if not resolved.is_file():
                problems.append(Problem(at, f"file not found: {value} (looked for {resolved}); "
                                            "paths are relative to the show file's folder"))

    source_kinds = section("sources")
    for name, src in sources.items():
        src = _mapping(src)
        if src.get("kind") in source_kinds.kinds:
            for key in source_kinds.keys_of(src["kind"]):
                if key.file:
                    need_file(src.get(key.name), ("sources", name, key.name))
    problems.extend(_port_problems(sources))

    layer_files = [name for name, key in section("layers").all_keys().items() if key.file]
    for scene_name, scene in scenes.items():
        scene = _mapping(scene)
        at = ("scenes", scene_name)
        for i, name in enumerate(scene.get("audio") or [] if isinstance(scene.get("audio"), list) else []):
            need_source(name, at + ("audio", i))
        grid = _mapping(scene.get("grid"))
        if isinstance(grid.get("sources"), list):
            for i, name in enumerate(grid["sources"]):
                need_source(name, at + ("grid", "sources", i))
        check_rect(grid.get("rect"), at + ("grid", "rect"))
        layer_lists: list[tuple[YamlPath, Any, tuple[int, int]]] = [(at + ("layers",), scene.get("layers"),
                                                                      (width, height))]
        for canvas, layers in _mapping(scene.get("layouts")).items():
            if canvas not in canvases or canvas == MAIN_CANVAS:
                problems.append(Problem(at + ("layouts", canvas), _unknown_canvas(canvas, canvases), key=True))
                continue
            layer_lists.append((at + ("layouts", canvas), layers, canvases[canvas]))
        for list_at, layers, size in layer_lists:
            for i, layer in enumerate(layers if isinstance(layers, list) else []):
                layer = _mapping(layer)
                lat = list_at + (i,)
                need_source(layer.get("source"), lat + ("source",))
                for key in layer_files:
                    need_file(layer.get(key), lat + (key,))
                check_rect(layer.get("rect"), lat + ("rect",), size)
                crop = layer.get("crop")
                if isinstance(crop, list) and len(crop) == 4 and all(isinstance(c, (int, float)) for c in crop):
                    if crop[0] + crop[2] >= 1:
                        problems.append(Problem(lat + ("crop",), f"crop cuts away {crop[0]} + {crop[2]} of the width, "
                                                                 "nothing is left; left + right must be less than 1"))
                    if crop[1] + crop[3] >= 1:
                        problems.append(Problem(lat + ("crop",), f"crop cuts away {crop[1]} + {crop[3]} of the height, "
                                                                 "nothing is left; top + bottom must be less than 1"))

    start = _lookup(data, ("show", "start_scene"))
    if isinstance(start, str) and scenes and start not in scenes:
        problems.append(Problem(("show", "start_scene"), f"no scene named '{start}'{_did_you_mean(start, scenes)}; "
                                                         f"scenes are: {', '.join(scenes)}"))

    problems.extend(_iso_problems(_mapping(data.get("iso")), sources))

    for name in _mapping(_lookup(data, ("show", "canvases"))):
        if name == MAIN_CANVAS or not re.fullmatch(r"[a-z][a-z0-9_]*", str(name)):
            problems.append(Problem(("show", "canvases", name),
                                    f"canvas name '{name}' " + ("is the canvas video: describes; give this one "
                                                                "another name, e.g. portrait" if name == MAIN_CANVAS else
                                                                "must be lower-case letters, digits and _, "
                                                                "starting with a letter, e.g. portrait"), key=True))

    for name, out in _mapping(data.get("outputs")).items():
        out = _mapping(out)
        canvas = out.get("canvas")
        if isinstance(canvas, str) and canvas not in canvases:
            problems.append(Problem(("outputs", name, "canvas"), _unknown_canvas(canvas, canvases)))
        raw_key_path = ("outputs", name, "key")
        if isinstance(out.get("key"), str) and raw_key_path not in refs:
            problems.append(Problem(raw_key_path, "write key: ${CHANNELS_KEY} and set it in the environment; "
                                                  "keys in the file end up in git", severity="warning"))
    return problems


def _canvases(data: dict) -> dict[str, tuple[int, int]]:
    """Every canvas's size as written: main (video:) first, then show.canvases (bad sizes: main's)."""
    main = _canvas(data)
    out = {MAIN_CANVAS: main}
    for name, spec in _mapping(_lookup(data, ("show", "canvases"))).items():
        spec = _mapping(spec)
        w, h = spec.get("width"), spec.get("height")
        ok = all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in (w, h))
        out.setdefault(str(name), (w, h) if ok else main)
    return out


def _unknown_canvas(name: Any, canvases: Mapping[str, Any]) -> str:
    extra = [c for c in canvases if c != MAIN_CANVAS]
    if name == MAIN_CANVAS:
        return ("the main canvas's layout is the scene's layers:; layouts: is for the other canvases"
                + (f" ({', '.join(extra)})" if extra else ""))
    have = f"canvases are: {', '.join(canvases)}" if extra else \
        "this show has only the main canvas; declare others under show: canvases:, e.g. portrait: {width: 720, height: 1280}"
    return f"no canvas named '{name}'{_did_you_mean(name, canvases)}; {have}"


def _iso_problems(iso: dict, sources: dict) -> list[Problem]:
    """ISO recording copies what arrives encoded; pictures drawn here have nothing to copy."""
    problems: list[Problem] = []
    chosen = iso.get("sources")
    if isinstance(chosen, list):
        for i, name in enumerate(chosen):
            at = ("iso", "sources", i)
            if not isinstance(name, str):
                continue
            if name not in sources:
                problems.append(Problem(at, f"no source named '{name}'{_did_you_mean(name, sources)}; "
                                            f"sources are: {', '.join(sources)}"))
                continue
            kind = _mapping(sources[name]).get("kind")
            if kind not in ISO_KINDS:
                problems.append(Problem(at, f"source '{name}' ({kind}) is drawn here, nothing arrives to record; "
                                            f"ISO recording takes {', '.join(ISO_KINDS)} sources"))
    return problems


def _port_problems(sources: dict) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[int, str] = {}
    for name, src in sources.items():
        src = _mapping(src)
        listen = src.get("listen")
        if section("sources").key(src.get("kind"), "listen") is None or not isinstance(listen, str):
            continue
        try:
            port = urlsplit(listen).port
        except ValueError:
            problems.append(Problem(("sources", name, "listen"), "the port must be a number from 1 to 65535"))
            continue
        if port is None:
            continue
        if not 1 <= port <= 65535:
            problems.append(Problem(("sources", name, "listen"), f"port {port} must be from 1 to 65535"))
        elif port in seen:
            problems.append(Problem(("sources", name, "listen"),
                                    f"port {port} is already used by source '{seen[port]}'; each listening source "
                                    "needs its own port (ffmpeg binds one listener per port)"))
        else:
            seen[port] = name
    return problems


def _jobfair_check(data: dict, base_dir: Path) -> tuple[Any, list[Problem]]:
    if not isinstance(data.get("jobfair"), dict):
        return None, []
    from .jobfair.model import check_jobfair

    model, problems = check_jobfair(data["jobfair"], base_dir)
    return model, [Problem(("jobfair",) + tuple(p.path), p.message, p.severity, p.key) for p in problems]


# ---------------------------------------------------------------- building the config

def build_config(data: dict, path: Path, base_dir: Path, secrets: set[YamlPath], jobfair: Any) -> ShowConfig:
    """ShowConfig from data that passed every check."""
    show = data.get("show") or {}
    video = VideoSettings(**(show.get("video") or {}))
    video = VideoSettings(**{**video.__dict__, "keyframe_s": float(video.keyframe_s)})
    audio = AudioSettings(**(show.get("audio") or {}))
    full = canvas_rect(video.width, video.height)
    sources = {name: _source(name, spec, base_dir) for name, spec in (data.get("sources") or {}).items()}
    scenes = {name: _scene(name, spec, full, base_dir) for name, spec in data["scenes"].items()}
    outputs = {name: _output(name, spec, base_dir, secrets) for name, spec in (data.get("outputs") or {}).items()}
    transition = show.get("transition") or {}
    canvases = {name: CanvasConfig(name, spec["width"], spec["height"], spec.get("bitrate_kbps", video.bitrate_kbps),
                                   spec.get("label", name))
                 for name, spec in (show.get("canvases") or {}).items()}
    return ShowConfig(
        name=show.get("name") or path.stem,
        path=path,
        video=video,
        audio=audio,
        sources=sources,
        scenes=scenes,
        outputs=outputs,
        start_scene=show.get("start_scene") or next(iter(scenes)),
        transition=transition.get("kind", "fade"),
        transition_ms=transition.get("duration_ms", 500),
        data_dir=(base_dir / show.get("data_dir", "data")).resolve(),
        public_url=show.get("public_url"),
        ice_servers=tuple(_ice_server(spec) for spec in show.get("ice_servers") or ()),
        jobfair=jobfair,
        iso=_iso(data.get("iso"), sources),
        canvases=canvases,
    )


def _iso(spec: dict | None, sources: dict[str, SourceConfig]) -> IsoConfig | None:
    if not spec:
        return None
    chosen = spec["sources"]
    names = [n for n, s in sources.items() if s.kind in ISO_KINDS] if chosen == "all" else list(chosen)
    return IsoConfig(sources=tuple(names), path=spec.get("path", ISO_DEFAULT_PATH))


def _ice_server(spec: dict) -> IceServer:
    urls = spec["urls"]
    credential = spec.get("credential")
    return IceServer(urls=(urls,) if isinstance(urls, str) else tuple(urls), username=spec.get("username"),
                     credential=Secret(credential) if credential else None)


def _fields(cls: type, section_name: str, kind: str, spec: dict, base_dir: Path,
            secrets: set[YamlPath] = frozenset(), at: YamlPath = ()) -> dict[str, Any]:
    """Constructor arguments of `cls` from a checked item of `kind`: each key as its declaration
    says (files resolved, values loaded, secrets wrapped), into the field of its name or `options`."""
    sec = section(section_name)
    names = {f.name: str(f.type) for f in dataclasses.fields(cls)}
    fields: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for name, value in spec.items():
        key: Key | None = sec.key(kind, name)
        if key is None:
            continue   # `kind:` itself
        if key.file:
            value = (base_dir / value).resolve()
        elif key.load is not None:
            value = key.load(value)
        # Always secret when the field says so (a stream key); else when it came from ${VAR}.
        if isinstance(value, str) and ("Secret" in names.get(name, "") or key.secret and at + (name,) in secrets):
            value = Secret(value)
        (fields if name in names else options)[name] = value
    if options:
        fields["options"] = options
    return fields


def _source(name: str, spec: dict, base_dir: Path) -> SourceConfig:
    fields = _fields(SourceConfig, "sources", spec["kind"], spec, base_dir)
    fields.setdefault("label", name)
    return SourceConfig(name=name, kind=spec["kind"], **fields)


def _layer(spec: dict, base_dir: Path) -> LayerConfig:
    kind = next(k for k in section("layers").layer_kind_keys() if k in spec)
    return LayerConfig(kind=kind, **_fields(LayerConfig, "layers", kind, spec, base_dir))


def _scene(name: str, spec: dict, full: Rect, base_dir: Path) -> SceneConfig:
    layers: list[LayerConfig] = []
    grid = spec.get("grid")
    if grid:
        area = Rect(*grid["rect"]) if "rect" in grid else full
        cells = grid_rects(len(grid["sources"]), grid["columns"], area, grid.get("gap", 0))
        layers += [LayerConfig(kind="source", source=src, rect=cell, fit=grid.get("fit", "contain"))
                   for src, cell in zip(grid["sources"], cells)]
    layers += [_layer(layer, base_dir) for layer in spec.get("layers") or []]
    audio = tuple(spec["audio"]) if "audio" in spec else None
    layouts = {canvas: tuple(_layer(layer, base_dir) for layer in items)
               for canvas, items in (spec.get("layouts") or {}).items()}
    focus = tuple(spec["focus"]) if "focus" in spec else None
    return SceneConfig(name=name, layers=tuple(layers), label=spec.get("label", name), audio=audio,
                       layouts=layouts, focus=focus)  # type: ignore[arg-type]


def _output(name: str, spec: dict, base_dir: Path, secrets: set[YamlPath]) -> OutputConfig:
    fields = _fields(OutputConfig, "outputs", spec["kind"], spec, base_dir, secrets, ("outputs", name))
    fields.setdefault("label", name)
    return OutputConfig(name=name, kind=spec["kind"], **fields)


# ---------------------------------------------------------------- entry points

def _format(shown: str, doc: YamlDoc, problem: Problem, at: tuple[int, int] | None = None) -> tuple[int, int, str]:
    line, col = at or doc.locate(problem.path, problem.key)
    tag = "warning: " if problem.severity == "warning" else ""
    return line, col, f"{shown}:{line}:{col}: {tag}{problem.message}"


def check_show_text(text: str, path: str | Path, env: Mapping[str, str] | None = None,
                    base_dir: Path | None = None) -> tuple[ShowConfig, list[str]]:
    """`load_show` on text already read; `path` is only used in messages and to resolve files."""
    shown = str(path)
    env = os.environ if env is None else env
    base_dir = base_dir if base_dir is not None else Path(path).resolve().parent
    try:
        doc = parse_yaml(text)
    except _Syntax as exc:
        raise ShowFileError([f"{shown}:{exc.line}:{exc.col}: {exc.message}"]) from None
    if doc.data is None:
        raise ShowFileError([f"{shown}:1:1: the show file is empty; start with 'show:', 'sources:' and 'scenes:' "
                             "(see docs/showfile.md)"])
    if not isinstance(doc.data, dict):
        line, col = doc.locate(())
        raise ShowFileError([f"{shown}:{line}:{col}: the top level must be a mapping with show:, sources:, "
                             f"scenes: and outputs:, got {_got(doc.data)}"])

    problems = list(doc.problems)
    data, refs = expand_env(doc.data, env, problems)
    unset = {p.path for p in problems if p.message.startswith("environment variable")}
    structural = schema_problems(data, doc.data, unset)
    problems += structural
    problems += semantic_problems(data, base_dir, unset, refs)
    jobfair = None
    if not any(p.path[:1] == ("jobfair",) for p in structural):
        jobfair, jf_problems = _jobfair_check(data, base_dir)
        problems += [p for p in jf_problems if p.path not in unset]   # an unset ${VAR} is said once
    # The rundown's names and times, checked even beside its schema errors (check_rundown copes).
    rundown, rd_problems = check_rundown(data.get("rundown"), _mapping(data.get("scenes")), jobfair,
                                         fair_written=isinstance(data.get("jobfair"), dict))
    problems += rd_problems

    errors = sorted({_format(shown, doc, p) for p in problems if p.severity != "warning"}
                    | {_format(shown, doc, p, (line, col)) for line, col, p in doc.pinned})
    warnings = [line for *_, line in sorted({_format(shown, doc, p) for p in problems if p.severity == "warning"})]
    if errors:
        raise ShowFileError([line for *_, line in errors], warnings)
    return replace(build_config(data, Path(path).resolve(), base_dir, refs, jobfair), rundown=rundown), warnings


def load_show(path: str | Path, env: Mapping[str, str] | None = None) -> tuple[ShowConfig, list[str]]:
    """Read, check and build the show file at `path`; raise ShowFileError with every problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ShowFileError([f"{path}: no such file"]) from None
    except IsADirectoryError:
        raise ShowFileError([f"{path}: is a folder; give the show file, e.g. {Path(path) / 'show.yaml'}"]) from None
    except UnicodeDecodeError as exc:
        raise ShowFileError([f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8"]) from None
    except OSError as exc:
        raise ShowFileError([f"{path}: cannot read: {exc.strerror}"]) from None
    return check_show_text(text, path, env)
