"""The show file's JSON Schema (draft 2020-12): the one declaration of its shape.

`stream-ops schema` prints it for editors (YAML language server: hover help and
checks while typing); `stream_ops.showfile` validates every file against it and
turns each error into a producer's message. Two non-standard keys are read by
`showfile`: `errorMessage` (the sentence to say when the value is wrong, also
understood by the YAML language server) and `examples` (what to suggest).
"""
from __future__ import annotations

from typing import Any

from .config import GAIN_DB_MAX, GAIN_DB_MIN, LAYER_KINDS, OUTPUT_KINDS, SOURCE_KINDS, TRANSITIONS

SCHEMA_ID = "https://stream-ops.invalid/schema/show.json"

COLOR_PATTERN = r"^#([0-9a-fA-F]{6}|[0-9a-fA-F]{8})$"
COLOR_MESSAGE = 'must be a colour like "#ff0000" (#rrggbb) or "#00000080" (#rrggbbaa, the last two digits are opacity)'
RTMP_LISTEN_PATTERN = r"^rtmp://[^/:\s]+:[0-9]{1,5}/[^/\s]+/[^/\s]+$"
SRT_LISTEN_PATTERN = r"^srt://[^/:\s]+:[0-9]{1,5}/?(\?\S*)?$"


def _color(description: str) -> dict[str, Any]:
    return {"type": "string", "pattern": COLOR_PATTERN, "errorMessage": COLOR_MESSAGE,
            "description": description, "examples": ["#ffffff", "#00000080"]}


def _int(description: str, minimum: int | None = None, maximum: int | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "description": description, **extra}
    if minimum is not None:
        schema["minimum"] = minimum
    if maximum is not None:
        schema["maximum"] = maximum
    return schema


RECT: dict[str, Any] = {
    "type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 4,
    "title": "rect",
    "description": "[x, y, w, h] in canvas pixels, from the top-left corner. 画面坐标：左上角 x, y，宽 w，高 h（像素）。",
    "errorMessage": "must be four whole numbers [x, y, w, h], e.g. rect: [880, 40, 360, 202]",
    "examples": [[880, 40, 360, 202]],
}

CROP: dict[str, Any] = {
    "type": "array", "items": {"type": "number", "minimum": 0, "maximum": 1}, "minItems": 4, "maxItems": 4,
    "description": "[left, top, right, bottom] fractions of the source cut away (0..1). 裁掉源画面的比例：左、上、右、下。",
    "errorMessage": "must be four fractions [left, top, right, bottom] between 0 and 1, e.g. crop: [0.1, 0, 0.1, 0]",
    "examples": [[0, 0, 0, 0]],
}

# Keys every source may have, whatever its kind.
SOURCE_COMMON: dict[str, Any] = {
    "kind": {"enum": list(SOURCE_KINDS), "description": "How the source arrives: rtmp/srt (an encoder pushes to us), "
             "pull (we pull a URL), file, image, test, color, webrtc (a phone). 信号类型。"},
    "label": {"type": "string", "description": "Name shown in the control panel. 控制台上显示的名称。"},
    "audio": {"type": "boolean", "description": "Take this source's audio at all (default true). 是否使用该源的声音。"},
    "gain_db": {"type": "number", "minimum": GAIN_DB_MIN, "maximum": GAIN_DB_MAX, "description": "Audio gain in dB (default 0). 音量增益。"},
    "muted": {"type": "boolean", "description": "Start muted (default false). 开始时静音。"},
}

# Keys only one kind of source has.
SOURCE_KIND_KEYS: dict[str, dict[str, Any]] = {
    "rtmp": {"listen": {"type": "string", "pattern": RTMP_LISTEN_PATTERN,
                        "errorMessage": 'must look like "rtmp://0.0.0.0:1935/live/cam1" (rtmp://HOST:PORT/APP/NAME)',
                        "description": "Where an encoder pushes RTMP to us: rtmp://HOST:PORT/APP/NAME. 编码器推流地址。",
                        "examples": ["rtmp://0.0.0.0:1935/live/cam1"]}},
    "srt": {"listen": {"type": "string", "pattern": SRT_LISTEN_PATTERN,
                       "errorMessage": 'must look like "srt://0.0.0.0:9000" (srt://HOST:PORT)',
                       "description": "Where an encoder sends SRT to us: srt://HOST:PORT. SRT 监听地址。",
                       "examples": ["srt://0.0.0.0:9000"]}},
    "pull": {"url": {"type": "string", "pattern": r"^(rtsp|rtsps|rtmp|rtmps|srt|http|https|udp|rtp)://\S+$",
                     "errorMessage": 'must be a URL such as "rtsp://192.0.2.10/stream1"',
                     "description": "A stream we pull (RTSP camera, HLS, RTMP...). 拉流地址。",
                     "examples": ["rtsp://192.0.2.10/stream1"]}},
    "file": {"path": {"type": "string", "minLength": 1, "description": "Video file, relative to the show file's folder. 视频文件路径。",
                      "examples": ["assets/promo.mp4"]},
             "loop": {"type": "boolean", "description": "Start again at the end (default true). 循环播放。"}},
    "image": {"path": {"type": "string", "minLength": 1, "description": "Still image, relative to the show file's folder. 图片路径。",
                       "examples": ["assets/slate.png"]}},
    "test": {},
    "color": {"color": _color("Fill colour. 纯色。")},
    "webrtc": {"max_width": _int("Largest width the phone sends. 手机最大发送宽度。", 160, 3840),
               "max_height": _int("Largest height the phone sends. 手机最大发送高度。", 120, 2160),
               "max_bitrate_kbps": _int("Bitrate cap asked of the phone, kbit/s. 码率上限。", 100, 20000),
               "facing": {"enum": ["user", "environment"],
                          "description": "Camera to open: user (front) or environment (back). 前置/后置摄像头。"}},
}
SOURCE_REQUIRED: dict[str, list[str]] = {
    "rtmp": ["listen"], "srt": ["listen"], "pull": ["url"], "file": ["path"], "image": ["path"], "color": ["color"],
}

OUTPUT_COMMON: dict[str, Any] = {
    "kind": {"enum": list(OUTPUT_KINDS), "description": "rtmp (platforms), srt (gateways), file (recording). 输出类型。"},
    "platform": {"type": "string", "description": "channels, douyin, bilibili, kuaishou, youtube, gateway, record... 平台。",
                 "examples": ["channels", "douyin", "bilibili", "kuaishou", "youtube"]},
    "label": {"type": "string", "description": "Name shown in the control panel. 控制台显示名称。"},
    "autostart": {"type": "boolean", "description": "Start when the show starts (default false). 启动时自动开始。"},
}
OUTPUT_KIND_KEYS: dict[str, dict[str, Any]] = {
    "rtmp": {"url": {"type": "string", "pattern": r"^rtmps?://\S+$",
                     "errorMessage": 'must start with rtmp:// or rtmps://, e.g. "rtmp://push.example.com/live"',
                     "description": "Server URL without the stream key. 推流地址（不含串流密钥）。"},
             "key": {"type": "string", "description": "Stream key: write ${CHANNELS_KEY} and set it in the environment. "
                     "串流密钥：写 ${变量名}，在环境变量里设置，不要写进文件。", "examples": ["${CHANNELS_KEY}"]}},
    "srt": {"url": {"type": "string", "pattern": r"^srt://\S+$",
                    "errorMessage": 'must start with srt://, e.g. "srt://192.0.2.20:9000"',
                    "description": "srt://HOST:PORT[?streamid=...&passphrase=${SRT_PASS}]. SRT 目标地址。"}},
    "file": {"path": {"type": "string", "minLength": 1,
                      "description": "Recording path template: {show}, {name}, {start:%Y%m%d-%H%M%S}. 录制文件路径模板。",
                      "examples": ["recordings/{show}-{start:%Y%m%d-%H%M%S}.ts"]}},
}
OUTPUT_REQUIRED: dict[str, list[str]] = {"rtmp": ["url"], "srt": ["url"], "file": ["path"]}

LAYER: dict[str, Any] = {
    "type": "object",
    "title": "layer",
    "description": "One thing drawn in the scene; its kind is the one key it has of source/image/text/color/qr/jobcard. "
                   "图层：source/image/text/color/qr/jobcard 六选一。",
    "properties": {
        "source": {"type": "string", "description": "Name of a source under sources:. 信号源名称。"},
        "image": {"type": "string", "description": "Image file, relative to the show file's folder. 图片。"},
        "text": {"type": "string", "description": "Text; may hold {{ templates }}. 文字。"},
        "color": _color("Text colour, or the fill of a colour layer. 文字颜色或色块颜色。"),
        "qr": {"type": "string", "description": "URL put in a QR code; may hold {{ apply_url }}. 二维码内容。",
               "examples": ["{{ apply_url }}"]},
        "jobcard": {"type": "boolean", "const": True, "description": "The featured job's card. 当前岗位卡片。"},
        "rect": RECT,
        "crop": CROP,
        "opacity": {"type": "number", "minimum": 0, "maximum": 1, "description": "0 (invisible) to 1 (solid). 不透明度。"},
        "fit": {"enum": ["contain", "cover", "stretch"],
                "description": "contain: whole picture, bars; cover: fill, cut edges; stretch. 缩放方式。"},
        "size": _int("Font size in canvas pixels (text). 字号。", 6, 400),
        "background": _color("Box fill behind text/qr/jobcard. 背景色。"),
        "align": {"enum": ["left", "center", "right"], "description": "Text alignment. 对齐。"},
    },
    "additionalProperties": False,
    # `color` is the text/qr colour when another kind key is there, a colour layer only on its own.
    "oneOf": [{"required": [k]} for k in LAYER_KINDS if k != "color"]
             + [{"required": ["color"], "not": {"anyOf": [{"required": [k]} for k in LAYER_KINDS if k != "color"]}}],
}

GRID: dict[str, Any] = {
    "type": "object",
    "description": "Sources tiled in equal cells, drawn behind the layers. 宫格：等分排列的多路信号。",
    "properties": {
        "columns": _int("Cells per row. 每行格数。", 1, 8),
        "sources": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                    "description": "Source names, left to right, top to bottom. 信号源名称。"},
        "gap": _int("Pixels between cells. 间距。", 0, 200),
        "rect": {**RECT, "description": "Area the grid fills (default the whole canvas). 宫格区域。"},
        "fit": LAYER["properties"]["fit"],
    },
    "required": ["columns", "sources"],
    "additionalProperties": False,
}

SCENE: dict[str, Any] = {
    "type": "object",
    "title": "scene",
    "description": "What the program shows: a grid and/or layers. 场景。",
    "properties": {
        "label": {"type": "string", "description": "Name on the panel's scene button. 场景名称。"},
        "audio": {"type": "array", "items": {"type": "string"},
                  "description": "Sources heard in this scene (default: the visible ones). 本场景播放声音的信号源。"},
        "grid": GRID,
        "layers": {"type": "array", "items": LAYER,
                   "description": "Drawn in list order, the first at the back. 图层，先写的在底层。"},
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


def _kind_branches(kind_keys: dict[str, dict[str, Any]], common: dict[str, Any],
                   required: dict[str, list[str]], what: str) -> list[dict[str, Any]]:
    branches = []
    for kind, keys in kind_keys.items():
        then: dict[str, Any] = {"properties": {**common, **keys}, "additionalProperties": False}
        if required.get(kind):
            then["required"] = required[kind]
        branches.append({"if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]}, "then": then,
                         "description": f"{kind} {what}"})
    return branches


def _jobfair_schema() -> dict[str, Any]:
    try:
        from .jobfair.schema import JOBFAIR_SCHEMA  # written by the job-fair author
    except (ImportError, AttributeError):
        return {"type": "object", "description": "Job fair: employers and jobs. 招聘会：用人单位与岗位。"}
    # Embedded as a subschema: "$schema" belongs only at the document's root.
    return {k: v for k, v in JOBFAIR_SCHEMA.items() if k != "$schema"}


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
                "additionalProperties": {
                    "type": "object", "title": "source", "properties": {**SOURCE_COMMON}, "required": ["kind"],
                    "allOf": _kind_branches(SOURCE_KIND_KEYS, SOURCE_COMMON, SOURCE_REQUIRED, "source"),
                },
            },
            "scenes": {
                "type": "object", "minProperties": 1, "additionalProperties": SCENE,
                "description": "Scenes by name; the first is on program at start. 场景。",
                "errorMessage": "needs at least one scene, e.g. host: {layers: [{source: cam1}]}",
            },
            "outputs": {
                "type": "object", "description": "Where the program goes. 输出目标。",
                "additionalProperties": {
                    "type": "object", "title": "output", "properties": {**OUTPUT_COMMON}, "required": ["kind"],
                    "allOf": _kind_branches(OUTPUT_KIND_KEYS, OUTPUT_COMMON, OUTPUT_REQUIRED, "output"),
                },
            },
            "jobfair": _jobfair_schema(),
        },
        "required": ["scenes"],
        "additionalProperties": False,
    }


def kinds_with_key(section: str, key: str) -> list[str]:
    """Source or output kinds (section 'sources'/'outputs') that accept `key`."""
    table = SOURCE_KIND_KEYS if section == "sources" else OUTPUT_KIND_KEYS
    return [kind for kind, keys in table.items() if key in keys]
