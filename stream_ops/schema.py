"""The show file's JSON Schema (draft 2020-12): the one declaration of its shape.

`stream-ops schema` prints it for editors (YAML language server: hover help and
checks while typing); `stream_ops.showfile` validates every file against it and
turns each error into a producer's message. Two non-standard keys are read by
`showfile`: `errorMessage` (the sentence to say when the value is wrong, also
understood by the YAML language server) and `examples` (what to suggest).
The keys of sources, outputs and layers come from their kinds' declarations
(`stream_ops.kinds`); the rest of the file's shape is written here.
"""
from __future__ import annotations

from typing import Any

from .config import TRANSITIONS
from .kinds import RECT, Key, Section, integer, section
from .rundown import RUNDOWN_SCHEMA

SCHEMA_ID = "https://stream-ops.invalid/schema/show.json"

_int = integer


def _properties(keys: tuple[Key, ...]) -> dict[str, Any]:
    return {key.name: key.schema for key in keys}


def _kind_key(sec: Section, intro: str) -> dict[str, Any]:
    """The `kind:` key: one of the declared kinds, each explained in the hover text."""
    listed = "; ".join(f"{k.name}: {k.summary}" for k in sec.kinds.values())
    return {"enum": list(sec.kinds), "description": f"{intro} {listed}"}


def _kind_branches(sec: Section, common: dict[str, Any]) -> list[dict[str, Any]]:
    """One if/then per kind: with `kind: X`, exactly the common keys and X's own are allowed."""
    branches = []
    for kind in sec.kinds.values():
        then: dict[str, Any] = {"properties": {**common, **_properties(kind.keys)}, "additionalProperties": False}
        required = [k.name for k in kind.keys if k.required]
        if required:
            then["required"] = required
        branches.append({"if": {"properties": {"kind": {"const": kind.name}}, "required": ["kind"]}, "then": then,
                         "description": f"{kind.name} {sec.name[:-1]}: {kind.summary}"})
    return branches


def _items(name: str, title: str, intro: str) -> dict[str, Any]:
    """The schema of one source or output: `kind:` plus the keys of that kind."""
    sec = section(name)
    common = {"kind": _kind_key(sec, intro), **_properties(sec.common)}
    return {"type": "object", "title": title, "properties": common, "required": ["kind"],
            "allOf": _kind_branches(sec, common)}


def layer_schema() -> dict[str, Any]:
    """A layer: the common keys and every layer kind's keys; exactly one kind key says what it
    draws, and then only that kind's keys are allowed."""
    sec = section("layers")
    order = sec.layer_kind_keys()
    shared = sec.shared_kind_keys()
    proper = [k for k in order if k not in shared]

    def is_kind(name: str) -> dict[str, Any]:
        # A shared kind key (`color`: a text's colour) names the kind only when no other kind key is there.
        if name in shared:
            return {"required": [name], "not": {"anyOf": [{"required": [p]} for p in proper]}}
        return {"required": [name]}

    # Keys a kind may be refused: any but the common ones and the proper kind keys (two kinds
    # in one layer is the oneOf's message, not one per key).
    others = set(sec.all_keys()) - {k.name for k in sec.common} - set(proper)
    return {
        "type": "object",
        "title": "layer",
        "description": ("One thing drawn in the scene; its kind is the one key it has of "
                        f"{'/'.join(order)}. 图层：{'/'.join(order)} 选一。"),
        "properties": {name: key.schema for name, key in sec.all_keys().items()},
        "additionalProperties": False,
        "oneOf": [is_kind(k) for k in order],
        # Another kind's key (`crop` on a text) is refused by a false schema; showfile says whose it is.
        "allOf": [{"if": is_kind(kind.name),
                   "then": {"properties": {k: False for k in sorted(others - {x.name for x in kind.keys} - {kind.name})}}}
                  for kind in sec.kinds.values()],
    }


def grid_schema() -> dict[str, Any]:
    """Sources tiled in equal cells."""
    return {
        "type": "object",
        "description": "Sources tiled in equal cells, drawn behind the layers. 宫格：等分排列的多路信号。",
        "properties": {
            "columns": _int("Cells per row. 每行格数。", 1, 8),
            "sources": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                        "description": "Source names, left to right, top to bottom. 信号源名称。"},
            "gap": _int("Pixels between cells. 间距。", 0, 200),
            "rect": {**RECT, "description": "Area the grid fills (default the whole canvas). 宫格区域。"},
            "fit": section("layers").all_keys()["fit"].schema,
        },
        "required": ["columns", "sources"],
        "additionalProperties": False,
    }


def scene_schema() -> dict[str, Any]:
    """One scene: a grid and/or layers."""
    return {
        "type": "object",
        "title": "scene",
        "description": "What the program shows: a grid and/or layers. 场景。",
        "properties": {
            "label": {"type": "string", "description": "Name on the panel's scene button. 场景名称。"},
            "audio": {"type": "array", "items": {"type": "string"},
                      "description": "Sources heard in this scene (default: the visible ones). 本场景播放声音的信号源。"},
            "grid": grid_schema(),
            "layers": {"type": "array", "items": layer_schema(),
                       "description": "Drawn in list order, the first at the back. 图层，先写的在底层。"},
            "layouts": {"type": "object",
                        "description": ("This scene on another canvas: canvas name -> its layers, rects in that "
                                        "canvas's pixels (default: derived, see docs/showfile.md). 其他画布上的布局。"),
                        "additionalProperties": {"type": "array", "items": layer_schema()}},
            "focus": {"type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1},
                      "minItems": 2, "maxItems": 2, "examples": [[0.5, 0.4]],
                      "description": ("x, y fractions of the main source a derived portrait crop centres on "
                                      "(default [0.5, 0.5]). 竖屏裁切的中心点。")},
        },
        "additionalProperties": False,
        "anyOf": [{"required": ["layers"]}, {"required": ["grid"]}],
    }


SHOW: dict[str, Any] = {
    "type": "object",
    "description": "Name, canvas and defaults of the show. 节目设置。",
    "properties": {
        "name": {"type": "string", "description": "Show name (recordings, exports). 节目名称。"},
        "video": {"type": "object", "description": "Program canvas and encoder. 视频参数。", "additionalProperties": False,
                  "properties": {
                      "width": _int("Canvas width, even. 画面宽度（偶数）。", 160, 3840, multipleOf=2,
                                    errorMessage="must be an even whole number from 160 to 3840 (the encoder needs even sizes), e.g. 1280"),
                      "height": _int("Canvas height, even. 画面高度（偶数）。", 90, 2160, multipleOf=2,
                                     errorMessage="must be an even whole number from 90 to 2160 (the encoder needs even sizes), e.g. 720"),
                      "fps": _int("Frames per second, 1..60. 帧率。", 1, 60),
                      "bitrate_kbps": _int("Video bitrate, kbit/s. 视频码率。", 100, 50000),
                      "keyframe_s": {"type": "number", "exclusiveMinimum": 0, "maximum": 10,
                                     "description": "Seconds between keyframes (platforms want 2). 关键帧间隔（秒）。"},
                      "preset": {"enum": ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"],
                                 "description": "x264 preset; veryfast suits 2 cores. 编码预设。"},
                  }},
        "audio": {"type": "object", "description": "Program audio. 音频参数。", "additionalProperties": False,
                  "properties": {
                      "sample_rate": {"enum": [32000, 44100, 48000], "description": "Hz. 采样率。"},
                      "channels": {"enum": [1, 2], "description": "1 mono, 2 stereo. 声道数。"},
                      "bitrate_kbps": _int("AAC bitrate, kbit/s. 音频码率。", 32, 320),
                  }},
        "canvases": {
            "type": "object",
            "description": ("Extra canvases, each composed and encoded once (the main one is video:); fps, "
                            "keyframe_s and preset are video:'s. 额外画布（如竖屏）。"),
            "additionalProperties": {
                "type": "object", "additionalProperties": False, "required": ["width", "height"],
                "properties": {
                    "width": _int("Canvas width, even. 画面宽度（偶数）。", 90, 3840, multipleOf=2,
                                  errorMessage="must be an even whole number from 90 to 3840, e.g. 720"),
                    "height": _int("Canvas height, even. 画面高度（偶数）。", 90, 3840, multipleOf=2,
                                   errorMessage="must be an even whole number from 90 to 3840, e.g. 1280"),
                    "bitrate_kbps": _int("Video bitrate, kbit/s (default video:'s). 视频码率。", 100, 50000),
                    "label": {"type": "string", "description": "Name on the panel. 显示名称。"},
                }},
            "examples": [{"portrait": {"width": 720, "height": 1280, "bitrate_kbps": 2500, "label": "竖屏"}}],
        },
        "start_scene": {"type": "string", "description": "Scene on program at start (default the first). 初始场景。"},
        "transition": {"type": "object", "description": "Default AUTO transition. 默认转场。", "additionalProperties": False,
                       "properties": {"kind": {"enum": list(TRANSITIONS), "description": "cut or fade. 切换/淡化。"},
                                      "duration_ms": _int("Length of a fade in ms. 转场时长（毫秒）。", 0, 10000)}},
        "data_dir": {"type": "string", "description": "Store and logs, relative to the show file (default data). 数据目录。"},
        "public_url": {"type": "string", "pattern": r"^https?://\S+$",
                       "errorMessage": 'must be a base URL like "http://192.168.1.20:8080"',
                       "description": "Base URL phones and applicants reach (QR codes). 手机/求职者访问的地址。"},
        "ice_servers": {
            "type": "array",
            "description": ("STUN/TURN servers for phones that cannot reach this machine directly (4G behind NAT); "
                            "credentials via ${VAR}. 手机穿透用的 STUN/TURN 服务器。"),
            "items": {"type": "object", "additionalProperties": False, "required": ["urls"],
                      "properties": {
                          "urls": {"anyOf": [{"type": "string", "pattern": "^(stun|turn|turns):\\S+$"},
                                             {"type": "array", "minItems": 1,
                                              "items": {"type": "string", "pattern": "^(stun|turn|turns):\\S+$"}}],
                                   "description": 'e.g. "turn:turn.example.cn:3478?transport=udp"'},
                          "username": {"type": "string"},
                          "credential": {"type": "string", "description": "write ${TURN_PASSWORD}, never the password"},
                      }},
        },
    },
    "additionalProperties": False,
}


def _jobfair_schema() -> dict[str, Any]:
    from .jobfair.schema import JOBFAIR_SCHEMA

    # Embedded as a subschema: "$schema" belongs only at the document's root.
    return {k: v for k, v in JOBFAIR_SCHEMA.items() if k != "$schema"}


ISO: dict[str, Any] = {
    "type": "object", "additionalProperties": False, "required": ["sources"],
    "description": "Record sources on their own, as they arrived (no re-encode), next to the program. 单路信号录制（ISO）。",
    "properties": {
        "sources": {
            "anyOf": [{"const": "all"}, {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True}],
            "errorMessage": "must be all (every rtmp/srt/pull/file/webrtc source) or a list of source names, e.g. [cam1, cam2]",
            "description": "all, or the sources to record. all 或信号源列表。", "examples": ["all"],
        },
        "path": {
            "type": "string", "pattern": r"\{source\}.*\.(mkv|ts)$",
            "errorMessage": "must contain {source} (one file per source) and end in .mkv or .ts, "
                            "e.g. recordings/{show}-{source}-{start:%Y%m%d-%H%M%S}.mkv",
            "description": "File per source: {show}, {source}, {start:%Y%m%d-%H%M%S}; .mkv (any codec) or .ts. 文件路径模板。",
        },
    },
}


def show_schema() -> dict[str, Any]:
    """The whole show file's JSON Schema (draft 2020-12)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "stream-ops show file",
        "description": "Sources in, scenes composed, one encode, many outputs. 节目文件：信号源、场景、输出、招聘会。",
        "type": "object",
        "properties": {
            "show": SHOW,
            "sources": {
                "type": "object", "description": "Every input, by name. 信号源。",
                "additionalProperties": _items("sources", "source", "How the source arrives. 信号类型。"),
            },
            "scenes": {
                "type": "object", "minProperties": 1, "additionalProperties": scene_schema(),
                "description": "Scenes by name; the first is on program at start. 场景。",
                "errorMessage": "needs at least one scene, e.g. host: {layers: [{source: cam1}]}",
            },
            "outputs": {
                "type": "object", "description": "Where the program goes. 输出目标。",
                "additionalProperties": _items("outputs", "output", "Where the program goes. 输出类型。"),
            },
            "jobfair": _jobfair_schema(),
            "rundown": RUNDOWN_SCHEMA,
            "iso": ISO,
        },
        "required": ["scenes"],
        "additionalProperties": False,
    }


def kinds_with_key(section_name: str, key: str) -> list[str]:
    """Source or output kinds (section 'sources'/'outputs') that accept `key`."""
    return section(section_name).kinds_with_key(key)
