"""The show, as the producer wrote it: typed, validated, immutable.

`stream_ops.showfile.load_show(path)` builds these from YAML; nothing here reads
files or touches media. Kinds (of sources, outputs, layers) and their keys are
declared with their code (`stream_ops.kinds`): a kind's key fills the field of the
same name here when there is one, else its config's `options`. Secrets are wrapped in `Secret` so that a repr, a log line
or a JSON dump shows `****` instead of a stream key.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

TRANSITIONS = ("cut", "fade")
# A source's audio gain, in dB: the show file and the live command both hold to it.
GAIN_DB_MIN, GAIN_DB_MAX = -60, 20


class Secret(str):
    """A string that never shows itself: repr/str/format give `****`.

    Use `.reveal()` at the one place the value is needed (an ffmpeg argv).
    """

    def __new__(cls, value: str) -> "Secret":
        obj = super().__new__(cls, "****" if value else "")
        obj._value = value  # type: ignore[attr-defined]
        return obj

    def reveal(self) -> str:
        return self._value  # type: ignore[attr-defined]

    def __repr__(self) -> str:
        return "Secret('****')"


@dataclass(frozen=True)
class Rect:
    """x, y, w, h in canvas pixels."""

    x: int
    y: int
    w: int
    h: int

    def scaled(self, sx: float, sy: float) -> "Rect":
        return Rect(round(self.x * sx), round(self.y * sy), max(1, round(self.w * sx)), max(1, round(self.h * sy)))

    def as_list(self) -> list[int]:
        return [self.x, self.y, self.w, self.h]


@dataclass(frozen=True)
class VideoSettings:
    width: int = 1280
    height: int = 720
    fps: int = 30
    bitrate_kbps: int = 3000
    keyframe_s: float = 2.0
    preset: str = "veryfast"


MAIN_CANVAS = "main"          # the canvas `video:` describes
MAIN_LABEL = "横屏"


@dataclass(frozen=True)
class CanvasConfig:
    """A picture the show composes and encodes once: `main` (from `video:`) or one of `canvases:`.

    fps, keyframe interval and preset are the show's (`video:`): every canvas ticks on one clock."""

    name: str
    width: int
    height: int
    bitrate_kbps: int
    label: str = ""

    def video(self, shared: VideoSettings) -> VideoSettings:
        """The encoder settings of this canvas: its size and bitrate, the rest shared."""
        return VideoSettings(self.width, self.height, shared.fps, self.bitrate_kbps, shared.keyframe_s, shared.preset)


@dataclass(frozen=True)
class AudioSettings:
    sample_rate: int = 44100
    channels: int = 2
    bitrate_kbps: int = 128


@dataclass(frozen=True)
class SourceConfig:
    name: str
    kind: str                       # a declared source kind (stream_ops.kinds)
    label: str = ""                 # display name in the panel; defaults to name
    listen: str | None = None       # rtmp/srt: URL ffmpeg listens on
    url: str | None = None          # pull: URL ffmpeg pulls from
    path: Path | None = None        # file/image: resolved against the show file's folder
    loop: bool = True               # file
    color: str = "#000000"          # color: #rrggbb
    audio: bool = True              # take this source's audio at all
    gain_db: float = 0.0
    muted: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # a kind's keys with no field here (webrtc: max_width, ...)


@dataclass(frozen=True)
class LayerConfig:
    kind: str                       # a declared layer kind: the one kind key the layer has
    rect: Rect | None = None        # None: the whole canvas
    source: str | None = None       # kind=source
    image: Path | None = None       # kind=image
    text: str | None = None         # kind=text; may hold {{ templates }}
    qr: str | None = None           # kind=qr: URL template
    color: str = "#ffffff"          # text colour / colour layer fill, #rrggbb or #rrggbbaa
    background: str | None = None   # text/qr/jobcard box fill, #rrggbb or #rrggbbaa
    size: int = 36                  # text font size in canvas pixels
    align: Literal["left", "center", "right"] = "left"
    crop: tuple[float, float, float, float] | None = None  # left, top, right, bottom fractions cut away
    opacity: float = 1.0
    fit: Literal["contain", "cover", "stretch"] = "contain"
    options: dict[str, Any] = field(default_factory=dict)  # a kind's keys with no field here


@dataclass(frozen=True)
class SceneConfig:
    name: str
    layers: tuple[LayerConfig, ...]
    label: str = ""
    audio: tuple[str, ...] | None = None   # sources heard; None = sources visible in the scene
    layouts: dict[str, tuple[LayerConfig, ...]] = field(default_factory=dict)  # extra canvas -> its layers
    focus: tuple[float, float] | None = None   # x, y fractions of the main source a derived crop centres on

    def visible_sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(l.source for l in self.layers if l.kind == "source" and l.source))

    def heard_sources(self) -> tuple[str, ...]:
        return self.audio if self.audio is not None else self.visible_sources()


@dataclass(frozen=True)
class OutputConfig:
    name: str
    kind: str                       # a declared output kind (stream_ops.kinds)
    url: str | None = None          # rtmp/srt target (may embed a Secret via ${VAR})
    key: Secret | None = None       # rtmp stream key, appended as the last path segment
    path: str | None = None         # file: template with {show}, {start:%Y...}, {name}
    platform: str = ""              # channels / douyin / bilibili / kuaishou / youtube / gateway / record ...
    label: str = ""
    autostart: bool = False
    canvas: str = MAIN_CANVAS       # the canvas whose encode this output carries
    options: dict[str, Any] = field(default_factory=dict)  # a kind's keys with no field here

    def target_url(self) -> str:
        """The real URL for ffmpeg's argv; never log or return it."""
        base = _reveal(self.url or "")
        if self.key:
            return base.rstrip("/") + "/" + self.key.reveal()
        return base

    def masked_target(self) -> str:
        """What the panel and API show: scheme, host and path, secrets as ****."""
        if self.kind == "file":
            return self.path or ""
        shown = str(self.url or "")
        try:
            parts = urlsplit(shown)
            netloc = parts.hostname or ""
            if parts.port:
                netloc += f":{parts.port}"
            query = "****" if parts.query else ""
            shown = urlunsplit((parts.scheme, netloc, parts.path, query, ""))
        except ValueError:
            shown = "****"
        if self.key:
            shown = shown.rstrip("/") + "/****"
        return shown


def _reveal(value: str) -> str:
    return value.reveal() if isinstance(value, Secret) else value


@dataclass(frozen=True)
class IceServer:
    """A STUN/TURN server for phones that cannot reach this machine directly (4G behind NAT)."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: Secret | None = None

    def for_peer(self) -> dict[str, Any]:
        """RTCIceServer fields with the real credential (aiortc, and the slot's own authenticated page)."""
        out: dict[str, Any] = {"urls": list(self.urls)}
        if self.username:
            out["username"] = self.username
        if self.credential:
            out["credential"] = self.credential.reveal()
        return out


ISO_KINDS = ("rtmp", "srt", "pull", "file", "webrtc")   # sources whose feed arrives encoded, recorded as it came
ISO_DEFAULT_PATH = "recordings/{show}-{source}-{start:%Y%m%d-%H%M%S}.mkv"


@dataclass(frozen=True)
class IsoConfig:
    """`iso:` — sources recorded on their own, as they arrived (no re-encode)."""
    sources: tuple[str, ...]
    path: str = ISO_DEFAULT_PATH    # {show}, {source}, {start:%...}; .mkv or .ts


@dataclass(frozen=True)
class ShowConfig:
    name: str
    path: Path                      # the show file
    video: VideoSettings
    audio: AudioSettings
    sources: dict[str, SourceConfig]
    scenes: dict[str, SceneConfig]
    outputs: dict[str, OutputConfig]
    start_scene: str                # first scene on program (show.start_scene or the first scene)
    transition: str = "fade"        # default AUTO transition
    transition_ms: int = 500
    data_dir: Path = Path("data")   # SQLite store, logs (resolved against the show file's folder)
    public_url: str | None = None   # base URL phones and applicants reach (QR codes); None = from request
    ice_servers: tuple[IceServer, ...] = ()   # STUN/TURN for phones; none = host candidates only
    jobfair: Any = None             # stream_ops.jobfair.model.JobFair when the show has a `jobfair:` section
    rundown: Any = None             # stream_ops.rundown.RundownConfig when the show has a `rundown:` section
    iso: IsoConfig | None = None    # `iso:` section: per-source recordings
    canvases: dict[str, CanvasConfig] = field(default_factory=dict)   # `canvases:`: the extra ones (not main)

    def all_canvases(self) -> dict[str, CanvasConfig]:
        """Every canvas in show-file order, main first."""
        main = CanvasConfig(MAIN_CANVAS, self.video.width, self.video.height, self.video.bitrate_kbps, MAIN_LABEL)
        return {MAIN_CANVAS: main, **self.canvases}

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def data_path(self) -> Path:
        """`data_dir` resolved: relative to the show file's folder (the store, journals)."""
        return self.data_dir if self.data_dir.is_absolute() else self.base_dir / self.data_dir
