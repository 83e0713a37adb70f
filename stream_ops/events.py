"""Typed events and the bus that carries them to every WebSocket client.

Each event type is a small frozen dataclass whose fields are documented once; the
WebSocket, the history (`/api/state`'s `log`), the panel, docs/api.md (`markdown()`)
and the API description (`schema()`) all read these classes, so both ends of a
socket agree on names by construction. Publishers keep the short form
`bus.publish("program", scene=..., ...)`: the bus builds the event's class and
refuses an unknown type (ValueError) or an unknown or missing field (TypeError)
in the publisher's own thread.

Media threads publish through `EventBus.publish_threadsafe`; the asyncio loop fans
each event out to per-client bounded queues. A slow client loses its own messages
(and is told to resync), never anyone else's.

The history keeps what happened (switches, starts, stops, faults, joins), not the
periodic refreshes (levels, engine figures, a live source's or output's figures
once a second): each class says which it is (`history`).
"""
from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import logging
import re
import sys
import time
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

log = logging.getLogger(__name__)

HISTORY_SIZE = 1000   # an hour of a busy operator (a take every 5 s is 2 entries) plus faults
COLLAPSE_WINDOW = 10  # a warning repeated within this many entries replaces its earlier copy

_ABSENT: Any = object()   # an optional field the publisher did not give: left out of the JSON


def doc(text: str, default: Any = dataclasses.MISSING) -> Any:
    """A documented field; `default=None` makes it optional (left out of the JSON when not given)."""
    if default is None:
        default = _ABSENT
    return field(default=default, metadata={"doc": text})


# --- the envelope -------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of every event: `type` (the class's), `seq` (increasing) and `ts` (Unix seconds)."""

    type: ClassVar[str] = ""
    #: `always`: a fact for the history; `change`: only when its `state` differs from the
    #: last one kept for the same `name`; `never`: a refresh or a count.
    history: ClassVar[Literal["always", "change", "never"]] = "never"
    #: (field, value) for a variant of a type that several classes share (`phone`, `jobfair`).
    variant: ClassVar[tuple[str, str] | None] = None

    seq: int = field(default=0, compare=False, metadata={"envelope": True})
    ts: float = field(default_factory=time.time, compare=False, metadata={"envelope": True})

    def fields(self) -> dict[str, Any]:
        """The event's own fields (without the envelope), as given."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if not f.metadata.get("envelope") and getattr(self, f.name) is not _ABSENT}

    def to_json(self) -> dict[str, Any]:
        return {"type": self.type, "seq": self.seq, "ts": round(self.ts, 3), **self.fields()}

    def text(self) -> str:
        """The JSON text sent to clients, encoded once however many clients there are."""
        cached = self.__dict__.get("_text")
        if cached is None:
            cached = json.dumps(self.to_json(), ensure_ascii=False, default=str)
            object.__setattr__(self, "_text", cached)
        return cached

    @property
    def data(self) -> dict[str, Any]:
        """The fields as a dict (what `publish` was given)."""
        return self.fields()


# --- the show's events ----------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class State(Event):
    """The full state: the first message on `/ws`, and again instead of events a slow client missed
    (replace everything). Built by the WebSocket from `GET /api/state`, never published on the bus."""

    type: ClassVar[str] = "state"
    show: dict[str, Any] = doc("name, size, fps, started_at, on_air_s, default transition")
    program: str = doc("the scene on program")
    preview: str = doc("the scene in preview")
    transition: dict[str, Any] | None = doc("the fade running now (`kind`, `from`, `to`, `progress`), or null")
    scenes: list[Any] = doc("`name`, `label`, `sources` of every scene")
    sources: list[Any] = doc("every source's info, as in `source_state`")
    outputs: list[Any] = doc("every output's info, as in `output_state`")
    engine: dict[str, Any] = doc("engine figures, as in `engine`")
    linked: bool = doc("whether commands without a canvas reach every canvas", True)
    canvases: list[Any] | None = doc("every canvas, main first: `name`, `label`, `width`, `height`, `program`, `preview`, "
                              "`transition`, `outputs` (names)", None)
    levels: dict[str, Any] = doc("audio levels, as in `levels`")
    log: list[Any] = doc(f"the history, oldest first (up to {HISTORY_SIZE} entries): these events as sent")
    jobfair: dict[str, Any] | None = doc("job-fair figures, only when the show has a job fair", None)
    rundown: dict[str, Any] | None = doc("the run of show, as in `rundown`'s `rundown`, only when the show has one",
                                         None)


@dataclass(frozen=True, kw_only=True)
class Resync(Event):
    """You missed messages: a `state` follows (the WebSocket sends it instead of this)."""

    type: ClassVar[str] = "resync"
    dropped: int = doc("messages this client lost so far")


@dataclass(frozen=True, kw_only=True)
class Program(Event):
    """The program switched to another scene (a cut, or the start of a fade)."""

    type: ClassVar[str] = "program"
    history: ClassVar[str] = "always"
    scene: str = doc("the scene now on program")
    previous: str = doc("the scene it replaced")
    transition: str = doc("`cut` or `fade`")
    duration_ms: int = doc("the fade's length (0 for a cut)")
    actor: str = doc("who asked: `operator@ADDRESS`, `engine`, `system`")
    canvas: str = doc("the canvas that switched (`main`, or one of `show.canvases`)", "main")


@dataclass(frozen=True, kw_only=True)
class Preview(Event):
    """Another scene was put in preview (staging: not kept in the history)."""

    type: ClassVar[str] = "preview"
    scene: str = doc("the scene now in preview")
    actor: str = doc("who asked")
    canvas: str = doc("the canvas whose preview it is", "main")


@dataclass(frozen=True, kw_only=True)
class Link(Event):
    """The canvases were linked (one TAKE switches all; the others cut to main's program) or unlinked."""

    type: ClassVar[str] = "link"
    history: ClassVar[str] = "always"
    linked: bool = doc("true: commands without a canvas reach every canvas")
    actor: str = doc("who asked")


@dataclass(frozen=True, kw_only=True)
class SourceState(Event):
    """A source's measured state: sent when it changes (kept in the history) and once a second
    while it is live (a refresh of its figures, not kept)."""

    type: ClassVar[str] = "source_state"
    history: ClassVar[str] = "change"
    name: str = doc("the source")
    label: str = doc("its label")
    kind: str = doc("`rtmp`, `srt`, `pull`, `file`, `test`, `colour`, `image`, `webrtc`")
    state: str = doc("`idle`, `connecting`, `live`, `no_signal`")
    error: str | None = doc("why it is not live, or null")
    width: int | None = doc("the feed's width as received, or null")
    height: int | None = doc("the feed's height as received, or null")
    codec: str | None = doc("the feed's video codec, or null")
    fps: float | None = doc("frames per second arriving")
    has_audio: bool = doc("whether the feed has sound")
    gain_db: float = doc("fader, -60…+20 dB")
    muted: bool = doc("muted by the operator")
    phone: dict[str, Any] | None = doc("phones (`webrtc`) only: the phone's session figures, or null", None)
    bitrate_kbps: float = doc("phones only: kbit/s received", None)
    rtt_ms: float | None = doc("phones only: round-trip time", None)
    packets_lost: int = doc("phones only: packets lost so far", None)
    iso_file: str | None = doc("the file this source's feed is recorded to as it arrives (`iso:`), or null", None)


@dataclass(frozen=True, kw_only=True)
class SourceAudio(Event):
    """The operator changed a source's fader or mute."""

    type: ClassVar[str] = "source_audio"
    name: str = doc("the source")
    gain_db: float = doc("fader, -60…+20 dB")
    muted: bool = doc("muted")


@dataclass(frozen=True, kw_only=True)
class OutputState(Event):
    """An output's measured state: sent when it changes (kept in the history) and once a second
    while it runs (a refresh of its figures, not kept)."""

    type: ClassVar[str] = "output_state"
    history: ClassVar[str] = "change"
    name: str = doc("the output")
    label: str = doc("its label")
    kind: str = doc("`rtmp`, `srt`, `file`")
    platform: str | None = doc("the platform it pushes to, or null")
    target: str = doc("where it goes, stream key masked (`****`)")
    state: str = doc("`idle`, `connecting`, `live`, `reconnecting`, `failed`")
    desired: str = doc("what the operator asked for: `running` or `stopped`")
    kbps: float = doc("kbit/s delivered over the last seconds")
    bytes: int = doc("bytes delivered since it started")
    uptime_s: float = doc("seconds live in this session")
    reconnects: int = doc("reconnections since it started")
    dropped: int = doc("packets dropped because the target was too slow")
    error: str | None = doc("the last error, or null")
    file: str = doc("recordings only: the file being written, once it is open", None)


@dataclass(frozen=True, kw_only=True)
class Levels(Event):
    """Audio levels in dBFS, 10 a second."""

    type: ClassVar[str] = "levels"
    program: dict[str, Any] = doc("`{peak_db, rms_db}` of the program")
    sources: dict[str, Any] = doc("`{name: {peak_db, rms_db}}` of every source")


@dataclass(frozen=True, kw_only=True)
class Engine(Event):
    """Engine figures, once a second."""

    type: ClassVar[str] = "engine"
    fps: float = doc("frames encoded per second (last 2 s)")
    target_fps: int = doc("the show's frame rate")
    frames: int = doc("frames encoded")
    late_frames: int = doc("frames skipped because the clock was late")
    encoder_drops: int = doc("frames the encoder could not keep up with")
    render_errors: int = doc("frames that failed to render (the last good one was repeated)")
    max_gap_ms: float = doc("longest gap between two encoded frames")
    composite_ms: float = doc("average compositing time per frame")
    encode_ms: float = doc("average encoding time per frame")
    width: int = doc("program width")
    height: int = doc("program height")
    canvases: dict[str, Any] | None = doc("per canvas (main first): `{fps, frames, late_frames, encoder_drops, encode_ms, "
                                   "composite_ms, width, height}`", None)


@dataclass(frozen=True, kw_only=True)
class Log(Event):
    """A line for the operator's event log: who did what, what failed. Repeats of a warning or
    error (numbers aside) within the last entries replace their earlier copy in the history."""

    type: ClassVar[str] = "log"
    history: ClassVar[str] = "always"
    level: str = doc("`info`, `warning`, `error`")
    message: str = doc("Chinese first, then English: `开播 show started: demo`")
    actor: str = doc("`operator@ADDRESS`, `engine`, `system`, ...")
    en: str = doc("the English alone (given by the publisher, else the message after its leading "
                  "Chinese words)", None)
    repeats: int = doc("in the history only: how many times this warning came (numbers aside)", None)

    def __post_init__(self) -> None:
        if self.en is _ABSENT:
            object.__setattr__(self, "en", english_of(self.message))


@dataclass(frozen=True, kw_only=True)
class Rundown(Event):
    """The run of show moved on: a segment started (by the operator, or by itself when its time was up),
    or the last one ended (`docs/showfile.md`, `rundown:`). Not kept in the history: it carries the whole
    rundown, and the log line that goes with each change is kept."""

    type: ClassVar[str] = "rundown"
    index: int = doc("the segment on now, from 0; the number of segments once the last has ended")
    segment: dict[str, Any] | None = doc("`{index, number, title, employer, employer_name, scene, job, notes, "
                                         "planned_start, planned_clock, planned_length_s, actual_start, actual_end}` "
                                         "on now, or null when finished")
    ended: dict[str, Any] | None = doc("the segment that ended (same fields), or null")
    auto: bool = doc("it advanced by itself (`auto_advance`)")
    actor: str = doc("who asked: `operator@ADDRESS`, or `auto`")
    rundown: dict[str, Any] = doc("the whole rundown as `GET /api/rundown` gives it: `segments`, `current`, `next`, "
                                  "`due`, `countdown`, `overrun`, ...")


# --- phones: one `phone` type, a class per `event` ------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Phone(Event):
    """A phone slot changed (`docs/phones.md`); `event` says how."""

    type: ClassVar[str] = "phone"
    history: ClassVar[str] = "always"
    name: str = doc("the phone slot (a `webrtc` source)")
    event: str = doc("what happened (below)")


@dataclass(frozen=True, kw_only=True)
class PhoneOffer(Phone):
    """A phone (or WHIP encoder) joined the slot."""

    variant: ClassVar[tuple[str, str]] = ("event", "offer")
    session: str = doc("its session id")
    codec: str | None = doc("video codec")
    audio_codec: str | None = doc("audio codec, or null")
    replaced: bool = doc("it replaced the phone that was on the slot")


@dataclass(frozen=True, kw_only=True)
class PhoneLeft(Phone):
    """The phone on the slot left or was ended."""

    variant: ClassVar[tuple[str, str]] = ("event", "left")
    session: str = doc("its session id")
    reason: str = doc("why: `publisher ended the session`, `no media`, `token revoked`, `taken over`, ...")


@dataclass(frozen=True, kw_only=True)
class PhoneRefused(Phone):
    """A phone was turned away."""

    variant: ClassVar[tuple[str, str]] = ("event", "refused")
    reason: str = doc("why (`slot taken`)")


@dataclass(frozen=True, kw_only=True)
class PhoneTokenRotated(Phone):
    """The operator made a new join link; the old one stopped working."""

    variant: ClassVar[tuple[str, str]] = ("event", "token_rotated")
    kicked: bool = doc("the phone that used the old link was ended too")


@dataclass(frozen=True, kw_only=True)
class PhoneTakeover(Phone):
    """The operator allowed (or stopped allowing) the next phone to replace this one."""

    variant: ClassVar[tuple[str, str]] = ("event", "takeover")
    allow: bool = doc("allowed")


@dataclass(frozen=True, kw_only=True)
class PhoneStats(Phone):
    """The phone's figures, every few seconds while it is on (a refresh: not kept)."""

    history: ClassVar[str] = "never"
    variant: ClassVar[tuple[str, str]] = ("event", "stats")
    session: str = doc("its session id")
    state: str = doc("the WebRTC connection state")
    codec: str | None = doc("video codec")
    audio_codec: str | None = doc("audio codec, or null")
    connected_s: float | None = doc("seconds since it connected")
    bitrate_kbps: float = doc("kbit/s received")
    fps: float = doc("frames per second received")
    rtt_ms: float | None = doc("round-trip time, or null")
    packets_lost: int = doc("packets lost so far")
    width: int | None = doc("picture width as received")
    height: int | None = doc("picture height as received")


# --- the job fair: one `jobfair` type, a class per `kind` ----------------------------------
@dataclass(frozen=True, kw_only=True)
class JobFair(Event):
    """The job fair changed (`docs/jobfair.md`); `kind` says how."""

    type: ClassVar[str] = "jobfair"
    kind: str = doc("what changed (below)")


@dataclass(frozen=True, kw_only=True)
class JobFairFeature(JobFair):
    """A job went on air, or off air."""

    history: ClassVar[str] = "always"
    variant: ClassVar[tuple[str, str]] = ("kind", "feature")
    featured: dict[str, Any] | None = doc("`{job, title, employer, started_at, started}` on air now, or null")
    ended: dict[str, Any] | None = doc("the feature that ended, or null")
    apply_url: str = doc("the apply page of the featured job")


@dataclass(frozen=True, kw_only=True)
class JobFairSegment(JobFair):
    """An employer's segment started, or ended."""

    history: ClassVar[str] = "always"
    variant: ClassVar[tuple[str, str]] = ("kind", "segment")
    segment: dict[str, Any] | None = doc("`{employer, name, started_at, started}` running now, or null")
    ended: dict[str, Any] | None = doc("the segment that ended, or null")


@dataclass(frozen=True, kw_only=True)
class JobFairApplications(JobFair):
    """Application counts (bursts coalesced)."""

    variant: ClassVar[tuple[str, str]] = ("kind", "applications")
    applications: dict[str, Any] = doc("`{total, applicants, withdrawn, by_job, by_employer}`")
    applicants: int = doc("distinct applicants")
    visits: dict[str, Any] = doc("`{total, unique}`: apply-page views and distinct browsers")


@dataclass(frozen=True, kw_only=True)
class JobFairViewers(JobFair):
    """A platform's viewer sample was recorded."""

    variant: ClassVar[tuple[str, str]] = ("kind", "viewers")
    platform: str = doc("the platform")
    viewers: dict[str, Any] = doc("its figures: `{label, current, current_at, source, peak, peak_at, ...}`")
    overlay_viewers: int | None = doc("the figure on-screen text shows (the primary platform's), or null")


@dataclass(frozen=True, kw_only=True)
class JobFairPoller(JobFair):
    """A viewer poller's state changed."""

    variant: ClassVar[tuple[str, str]] = ("kind", "poller")
    poller: dict[str, Any] = doc("`{platform, kind, state, last_count, last_at, error, failures, next_poll_in_s}`")


@dataclass(frozen=True, kw_only=True)
class JobFairTotals(JobFair):
    """A platform's post-event figure was entered."""

    variant: ClassVar[tuple[str, str]] = ("kind", "totals")
    platform: str = doc("the platform")
    metric: str = doc("which figure")
    value: float = doc("its value")


# --- the registry ------------------------------------------------------------------------
def _own_classes() -> list[type[Event]]:
    module = sys.modules[__name__]
    return [c for c in vars(module).values()
            if isinstance(c, type) and issubclass(c, Event) and c is not Event]


def _registry() -> dict[str, dict[str | None, type[Event]]]:
    """type -> {variant value (None for a type without variants) -> class}."""
    reg: dict[str, dict[str | None, type[Event]]] = {}
    for cls in _own_classes():
        by_variant = reg.setdefault(cls.type, {})
        if cls.variant is not None:
            by_variant[cls.variant[1]] = cls
        elif not any(c is not cls and issubclass(c, cls) for c in _own_classes()):
            by_variant[None] = cls
    return reg


REGISTRY = _registry()
EVENT_TYPES = frozenset(REGISTRY)
_DISCRIMINATOR = {t: next(iter(v.values())).variant[0] for t, v in REGISTRY.items() if None not in v}


def event_class(type: str, fields: dict[str, Any]) -> type[Event]:
    """The class of event `type` with these fields (a variant picked by its discriminating field)."""
    by_variant = REGISTRY.get(type)
    if by_variant is None:
        raise ValueError(f"unknown event type {type!r}; types: {', '.join(sorted(EVENT_TYPES))}")
    if None in by_variant:
        return by_variant[None]
    key = _DISCRIMINATOR[type]
    if key not in fields:
        raise TypeError(f"event {type!r}: missing field {key} (one of {', '.join(by_variant)})")
    value = fields[key]
    cls = by_variant.get(value) if isinstance(value, str) else None
    if cls is None:
        raise ValueError(f"event {type!r}: {key}={value!r} is not one of {', '.join(by_variant)}")
    return cls


def own_fields(cls: type[Event]) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if not f.metadata.get("envelope")]


def make(type: str, **fields: Any) -> Event:
    """Build event `type`; TypeError names every unknown or missing field."""
    cls = event_class(type, fields)
    names = own_fields(cls)
    known = {f.name for f in names}
    required = {f.name for f in names if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    unknown, missing = sorted(set(fields) - known), sorted(required - set(fields))
    if unknown or missing:
        what = "; ".join(filter(None, [unknown and f"unknown field(s) {', '.join(unknown)}",
                                       missing and f"missing field(s) {', '.join(missing)}"]))
        raise TypeError(f"event {cls.__name__} ({type!r}): {what}; its fields: {', '.join(f.name for f in names)}")
    return cls(**fields)


# --- English of a bilingual log line -------------------------------------------------------
_LEADING_CHINESE = re.compile(r"^[\u3000-\u303f\u3400-\u9fff\uf900-\ufaff\uff00-\uffef]+[\s:：,，]*")


def english_of(message: str) -> str:
    """`开播 show started: demo` -> `show started: demo` (lines that do not start in Chinese: as they are)."""
    rest = _LEADING_CHINESE.sub("", message, count=1)
    return rest if rest.strip() else message


_NUMBER = re.compile(r"\b\d+(?:\.\d+)?\b", re.ASCII)   # word edges as the panel's JS sees them


def _repeat_key(entry: dict[str, Any]) -> tuple[Any, ...] | None:
    """Warnings and errors that differ only in their numbers (a retry's back-off) are one line."""
    if entry.get("type") != "log" or entry.get("level") not in ("warning", "error"):
        return None
    return entry.get("actor"), entry.get("level"), _NUMBER.sub("#", entry.get("message", ""))


# --- schema and docs -------------------------------------------------------------------------
_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean", dict: "object", list: "array"}


def _json_type(annotation: Any) -> list[str]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        out: list[str] = []
        for arg in typing.get_args(annotation):
            out += _json_type(arg)
        return out
    if annotation is type(None):
        return ["null"]
    return [_JSON_TYPES.get(origin or annotation, "object")]


def _object_schema(cls: type[Event]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    props: dict[str, Any] = {"type": {"const": cls.type}, "seq": {"type": "integer"}, "ts": {"type": "number"}}
    required = ["type"]
    for f in own_fields(cls):
        kinds = _json_type(hints[f.name])
        prop: dict[str, Any] = {"type": kinds[0] if len(kinds) == 1 else kinds, "description": f.metadata["doc"]}
        if cls.variant and f.name == cls.variant[0]:
            prop = {"const": cls.variant[1], "description": f.metadata["doc"]}
        props[f.name] = prop
        if f.default is dataclasses.MISSING:
            required.append(f.name)
    return {"type": "object", "title": cls.__name__, "description": _doc(cls), "properties": props,
            "required": required, "additionalProperties": False}


def _doc(cls: type) -> str:
    return " ".join((cls.__doc__ or "").split())


def schema() -> dict[str, dict[str, Any]]:
    """A JSON Schema per event type (a `oneOf` of its variants for `phone` and `jobfair`)."""
    out: dict[str, dict[str, Any]] = {}
    for type_, by_variant in sorted(REGISTRY.items()):
        if None in by_variant:
            out[type_] = _object_schema(by_variant[None])
        else:
            base = next(iter(by_variant.values())).__mro__[1]
            out[type_] = {"title": base.__name__, "description": _doc(base),
                          "oneOf": [_object_schema(c) for c in by_variant.values()]}
    return out


def markdown() -> str:
    """The events table of docs/api.md, generated from the classes."""
    lines = ["| type | when | fields |", "|---|---|---|"]

    def row(label: str, cls: type[Event], skip: tuple[str, ...] = ()) -> None:
        fields = "<br>".join(f"`{f.name}`{'' if f.default is dataclasses.MISSING else ' (optional)'}: {f.metadata['doc']}"
                             for f in own_fields(cls) if f.name not in skip)
        kept = {"always": "kept in the history", "change": "", "never": ""}[cls.history]
        lines.append(f"| {label} | {_doc(cls)}{' (' + kept + ')' if kept else ''} | {fields or '—'} |")

    order = ["state", "resync", "program", "preview", "source_state", "source_audio", "output_state",
             "levels", "engine", "log", "rundown", "phone", "jobfair"]
    for type_ in sorted(REGISTRY, key=lambda t: order.index(t) if t in order else len(order)):
        by_variant = REGISTRY[type_]
        if None in by_variant:
            row(f"`{type_}`", by_variant[None])
            continue
        key = _DISCRIMINATOR[type_]
        base = next(iter(by_variant.values())).__mro__[1]
        common = [f.name for f in own_fields(base)]
        lines.append(f"| `{type_}` | {_doc(base)} | "
                     + "<br>".join(f"`{f.name}`: {f.metadata['doc']}" for f in own_fields(base)) + " |")
        for value, cls in by_variant.items():
            row(f"`{type_}` `{key}: {value}`", cls, skip=tuple(common))
    return "\n".join(lines) + "\n"


DOCS_BEGIN = "<!-- events table: generated by `python -m stream_ops.events docs/api.md` -->"
DOCS_END = "<!-- end of events table -->"


def docs_with_table(text: str) -> str:
    """`text` (docs/api.md) with its events table replaced by the current one."""
    head, sep, rest = text.partition(DOCS_BEGIN)
    _, sep2, tail = rest.partition(DOCS_END)
    if not sep or not sep2:
        raise ValueError(f"the document has no {DOCS_BEGIN} … {DOCS_END} section")
    return f"{head}{DOCS_BEGIN}\n{markdown()}{DOCS_END}{tail}"


# --- the bus ---------------------------------------------------------------------------------
class Subscription:
    """One client's bounded queue. Overflow drops that client's oldest and flags a resync."""

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if self.queue.full():
            self.dropped += 1
            # Make room and tell the client it must resync from /api/state.
            try:
                self.queue.get_nowait()
            except asyncio.QueueEmpty:
                pass
            if event.type != "resync":
                try:
                    self.queue.put_nowait(Resync(dropped=self.dropped, seq=event.seq))
                except asyncio.QueueFull:
                    pass
                return
        self.queue.put_nowait(event)

    async def get(self) -> Event:
        return await self.queue.get()


class EventBus:
    """Broadcast of typed events; also keeps the history for the event log."""

    def __init__(self, history: int = HISTORY_SIZE, client_queue: int = 256) -> None:
        self._subs: set[Subscription] = set()
        self._seq = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client_queue = client_queue
        self.history: list[dict[str, Any]] = []
        self._history_max = history
        self._kept_state: dict[tuple[str, str], str] = {}   # (type, name) -> state last kept
        self.listeners: list[Any] = []   # in-process callables(event), called on the loop

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def subscribe(self) -> Subscription:
        sub = Subscription(self._client_queue)
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self._subs.discard(sub)

    @property
    def clients(self) -> int:
        return len(self._subs)

    def publish(self, type: str, **data: Any) -> None:
        """Publish from the event loop's thread. ValueError: unknown type; TypeError: unknown or missing field."""
        self._deliver(make(type, **data))

    def publish_threadsafe(self, type: str, **data: Any) -> None:
        """Publish from a media thread (checked here, in the caller's thread); a no-op once the loop is gone."""
        event = make(type, **data)
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._deliver, event)
        except RuntimeError:  # loop closing during shutdown
            pass

    def _deliver(self, event: Event) -> None:
        object.__setattr__(event, "seq", next(self._seq))
        self._remember(event)
        for sub in list(self._subs):
            sub.offer(event)
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:  # a broken listener must not break the bus
                log.exception("event listener failed")

    def _remember(self, event: Event) -> None:
        """Keep facts in the history; refreshes and counts pass by."""
        if event.history == "never":
            return
        if event.history == "change":
            key, state = (event.type, getattr(event, "name")), getattr(event, "state")
            if self._kept_state.get(key) == state:
                return
            self._kept_state[key] = state
        entry = event.to_json()
        repeat = _repeat_key(entry)
        if repeat is not None:
            recent = self.history[-COLLAPSE_WINDOW:]
            for i in range(len(recent) - 1, -1, -1):
                if _repeat_key(recent[i]) == repeat:
                    earlier = self.history.pop(len(self.history) - len(recent) + i)
                    entry["repeats"] = earlier.get("repeats", 1) + 1
                    break
        self.history.append(entry)
        del self.history[: -self._history_max]

    def log(self, message: str, level: str = "info", actor: str = "engine", **extra: Any) -> None:
        """An operator-readable line for the panel's event log (and the process log); `en=` the English alone."""
        getattr(log, level if level in ("info", "warning", "error") else "info")("[%s] %s", actor, message)
        self.publish("log", level=level, message=message, actor=actor, **extra)

    def log_threadsafe(self, message: str, level: str = "info", actor: str = "engine", **extra: Any) -> None:
        getattr(log, level if level in ("info", "warning", "error") else "info")("[%s] %s", actor, message)
        self.publish_threadsafe("log", level=level, message=message, actor=actor, **extra)


def main(argv: list[str]) -> int:
    """`python -m stream_ops.events [docs/api.md]`: print the events table, or rewrite it in that file."""
    if not argv:
        sys.stdout.write(markdown())
        return 0
    path = Path(argv[0])
    path.write_text(docs_with_table(path.read_text(encoding="utf-8")), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
