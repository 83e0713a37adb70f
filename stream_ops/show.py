"""The running show: owns the live state, takes commands, turns every change into an event.

Commands are coroutines called by the HTTP API (and tests). Media work is handed
to the engine's clock thread, applied at the next frame boundary, and the reply
comes back only once it has happened. Bad input raises `Refusal`, which the
API turns into 404/422, never 500.
"""
from __future__ import annotations

import asyncio
import difflib
import logging
import time
from pathlib import Path
from typing import Any

from .config import GAIN_DB_MAX, GAIN_DB_MIN, TRANSITIONS, ShowConfig
from .engine import Engine
from .events import EventBus
from .refusal import Refusal
from .rundown import overlay_values, seconds_to_next_tick

log = logging.getLogger(__name__)


def lan_address() -> str:
    """The first non-loopback IPv4 address of this machine (what phones on the same Wi-Fi reach)."""
    import ipaddress

    import psutil

    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family.name == "AF_INET":
                ip = ipaddress.ip_address(a.address)
                if not ip.is_loopback and not ip.is_link_local:
                    return a.address
    return "127.0.0.1"



class Show:
    """One show: config, engine, event bus, and the optional job fair and phone hub."""

    def __init__(self, config: ShowConfig, host: str = "127.0.0.1", port: int = 8080, scheme: str = "http",
                 apply_port: int | None = None) -> None:
        self.config = config
        self.bus = EventBus()
        self.host, self.port, self.scheme = host, port, scheme
        # What phones and applicants reach (QR codes): the show's public_url, else this machine's
        # LAN address when listening on all interfaces, else the address we listen on.
        reach = lan_address() if host in ("0.0.0.0", "::") else host
        self.base_url = (config.public_url or f"{scheme}://{reach}:{port}").rstrip("/")
        self.started_at: float | None = None
        self._context: dict[str, Any] = {"show": {"name": config.name}}
        self.engine = Engine(config, self.bus, context=lambda: self._context)
        self.jobfair: Any = None
        self.apply_base: str | None = None
        self.public_service: Any = None   # the apply service's child process, when `run` started one
        if config.jobfair is not None:
            from .jobfair.service import JobFairService

            # Applicants reach the public apply service, on its own port (never the studio's).
            apply = config.jobfair.apply
            self.apply_base = (apply.public_url or f"{scheme}://{reach}:{apply_port or apply.port}").rstrip("/")
            self.jobfair = JobFairService(config.jobfair, show_name=config.name, data_dir=self.data_dir,
                                          publish=self._publish_jobfair, public_url=self.apply_base)
        self.phones: Any = None
        if any(s.kind == "webrtc" for s in config.sources.values()):
            from .phones.hub import PhoneHub

            engine = self.engine
            self.phones = PhoneHub(engine.slots, config.sources, config.scenes,
                                   on_air=engine.on_air,
                                   publish=self.bus.publish, ice_servers=config.ice_servers, show_name=config.name)
            hub = self.phones
            self.bus.listeners.append(lambda event: event.type in ("program", "preview") and hub.on_air_changed())
        self.rundown: Any = None
        if config.rundown is not None:
            from .rundown_live import LiveRundown

            names = {e.id: e.name for e in config.jobfair.employers.values()} if config.jobfair is not None else {}
            self.rundown = LiveRundown(config.rundown, self.data_dir, cue=self._cue_segment,
                                       publish=self._publish_rundown, log_line=self.bus.log, employer_names=names)
        self._ticker: asyncio.Task[None] | None = None

    @property
    def data_dir(self) -> Path:
        return self.config.data_path

    # --- life cycle ------------------------------------------------------
    async def start(self) -> None:
        self.bus.bind(asyncio.get_running_loop())
        self.started_at = time.time()
        self.refresh_context()
        self.engine.start()
        if self.jobfair is not None:
            await self.jobfair.start()
        if self.phones is not None:
            await self.phones.start()
        for name, out in self.config.outputs.items():
            if out.autostart:
                self.engine.start_output(name, actor="system")   # the show file's doing, not an operator's
        self._ticker = asyncio.create_task(self._tick())
        self.bus.log(f"开播 show started: {self.config.name}", actor="system")

    async def stop(self) -> None:
        if self._ticker:
            self._ticker.cancel()
        if self.phones is not None:
            await self.phones.close()
        if self.jobfair is not None:
            await self.jobfair.close()
        if self.public_service is not None:
            await asyncio.to_thread(self.public_service.stop)
        problems = await asyncio.to_thread(self.engine.stop)
        # The last word of a show: an operator reading the log knows it ended on purpose.
        if problems:
            self.bus.log(f"停播 show stopped with problems: {'; '.join(problems)}", level="warning", actor="system",
                         en=f"show stopped with problems: {'; '.join(problems)}")
        else:
            self.bus.log("停播 show stopped cleanly: outputs closed, recordings finalized", actor="system",
                         en="show stopped cleanly: outputs closed, recordings finalized")

    async def _tick(self) -> None:
        """Just after each whole second: the rundown's auto-advance, then fresh values for on-screen
        text (so `{{ clock }}` shows every second once and its layer is drawn once a second)."""
        while True:
            await asyncio.sleep(seconds_to_next_tick(time.time()))
            if self.rundown is not None:
                try:
                    await self.rundown.tick()
                except Exception:   # the clock on screen must keep going whatever a cue did
                    log.exception("rundown auto-advance failed")
            self.refresh_context()

    def _publish_jobfair(self, type: str, data: dict[str, Any]) -> None:
        self.bus.publish(type, **data)
        self.refresh_context()

    def refresh_context(self) -> None:
        """Snapshot of `{{ ... }}` values; swapped whole so the clock thread reads it without locks."""
        ctx: dict[str, Any] = {"show": {"name": self.config.name}, "event": {"name": self.config.name}}
        if self.jobfair is not None:
            try:
                ctx.update(self.jobfair.overlay_context())
            except Exception:   # a stats hiccup must never blank the program
                log.exception("job-fair overlay values failed")
        if self.apply_base:
            ctx.setdefault("apply_url", f"{self.apply_base}/apply")
        if self.rundown is not None:
            ctx.update(self.rundown.overlay_values())
        else:
            ctx.update(overlay_values(None, None, time.time()))
        self._context = ctx

    # --- the run of show -------------------------------------------------------
    def _the_rundown(self) -> Any:
        if self.rundown is None:
            raise Refusal(404, "this show has no rundown (no rundown: section in the show file)", "no_rundown")
        return self.rundown

    def rundown_info(self) -> dict[str, Any]:
        return self._the_rundown().info()

    async def rundown_advance(self, actor: str = "operator") -> dict[str, Any]:
        """The next segment starts: its scene to program, its employer and job on air."""
        return await self._the_rundown().advance(actor)

    async def rundown_goto(self, index: Any, actor: str = "operator") -> dict[str, Any]:
        return await self._the_rundown().go_to(index, actor)

    def _publish_rundown(self, type: str, **data: Any) -> None:
        self.bus.publish(type, **data)
        self.refresh_context()   # {{ segment.title }} changes with the segment, not a second later

    async def _cue_segment(self, segment: Any, ended: Any, actor: str) -> None:
        """What a segment's start puts on air: its scene (the show's transition), its employer's
        segment and its featured job; what the segment that ended had on air comes off."""
        if segment is not None and segment.scene and segment.scene != self.engine.program:
            await self.set_program(segment.scene, self.config.transition, None, actor)
        if self.jobfair is None:
            return
        employer = segment.employer if segment is not None else None
        job = segment.job if segment is not None else None
        if employer:
            self.jobfair.start_segment(employer)
        elif ended is not None and ended.employer:
            self.jobfair.start_segment(None)
        if job:
            self.jobfair.feature(job)
        elif ended is not None and ended.job and self.jobfair.featured:
            self.jobfair.feature(None)
        await self.jobfair.written()

    # --- commands ----------------------------------------------------------
    def _scene(self, name: Any) -> str:
        if not isinstance(name, str) or not name:
            raise Refusal(422, "scene: give a scene name (string)")
        if name not in self.config.scenes:
            raise Refusal(404, f"unknown scene {name!r}; scenes: {', '.join(self.config.scenes)}")
        return name

    def _transition(self, transition: Any, duration_ms: Any, default: str) -> tuple[str, int]:
        """(kind, ms) from a request: missing kind → `default`, missing length → 0 for a cut,
        the show's transition length for a fade."""
        transition = transition if transition is not None else default
        if transition not in TRANSITIONS:
            raise Refusal(422, f"transition must be one of {', '.join(TRANSITIONS)}, got {transition!r}")
        if duration_ms is None:
            duration_ms = 0 if transition == "cut" else self.config.transition_ms
        if isinstance(duration_ms, bool) or not isinstance(duration_ms, (int, float)) or not 0 <= duration_ms <= 10_000:
            raise Refusal(422, "duration_ms must be a number of milliseconds from 0 to 10000")
        return transition, int(duration_ms)

    def _canvas(self, name: Any) -> str | None:
        """A request's canvas: None (main, and the others when linked) or a known canvas's name."""
        if name is None:
            return None
        if not isinstance(name, str) or not name:
            raise Refusal(422, "canvas: give a canvas name (string)")
        if name not in self.engine.canvases:
            match = difflib.get_close_matches(name, list(self.engine.canvases), n=1, cutoff=0.6)
            hint = f" (did you mean {match[0]!r}?)" if match else ""
            raise Refusal(404, f"unknown canvas {name!r}{hint}; canvases: {', '.join(self.engine.canvases)}")
        return name

    def on_air(self) -> dict[str, Any]:
        """What every canvas shows: the answer of program, preview and take."""
        engine = self.engine
        return {"program": engine.program, "preview": engine.preview, "linked": engine.linked,
                "canvases": {name: {"program": c.program, "preview": c.preview} for name, c in engine.canvases.items()}}

    async def set_program(self, scene: Any, transition: Any = "cut", duration_ms: Any = None, actor: str = "operator",
                          canvas: Any = None) -> dict[str, Any]:
        name = self._scene(scene)
        where = self._canvas(canvas)
        kind, ms = self._transition(transition, duration_ms, default="cut")
        await asyncio.wrap_future(self.engine.submit(lambda: self.engine.set_program(name, kind, ms, actor, where)))
        return self.on_air()

    async def set_preview(self, scene: Any, actor: str = "operator", canvas: Any = None) -> dict[str, Any]:
        name = self._scene(scene)
        where = self._canvas(canvas)
        await asyncio.wrap_future(self.engine.submit(lambda: self.engine.set_preview(name, actor, where)))
        return self.on_air()

    async def take(self, transition: Any = None, duration_ms: Any = None, actor: str = "operator",
                   canvas: Any = None) -> dict[str, Any]:
        where = self._canvas(canvas)
        # TAKE with nothing said is a cut; a length alone means the show's AUTO transition.
        kind, ms = self._transition(transition, duration_ms,
                                    default="cut" if duration_ms is None else self.config.transition)
        await asyncio.wrap_future(self.engine.submit(lambda: self.engine.take(kind, ms, actor, where)))
        return self.on_air()

    async def set_linked(self, linked: Any, actor: str = "operator") -> dict[str, Any]:
        """Link the canvases (one TAKE switches all; the others cut to main's program) or unlink them."""
        if not isinstance(linked, bool):
            raise Refusal(422, "linked must be true or false")
        await asyncio.wrap_future(self.engine.submit(lambda: self.engine.set_linked(linked, actor)))
        answer = self.on_air()
        return {"linked": answer["linked"], "canvases": answer["canvases"]}

    def scene_info(self, name: str) -> dict[str, Any]:
        """One scene's layers as the API shows them."""
        if name not in self.config.scenes:
            raise Refusal(404, f"unknown scene {name!r}; scenes: {', '.join(self.config.scenes)}")
        scene = self.config.scenes[name]
        return {"name": name, "label": scene.label or name,
                "layers": [{"kind": layer.kind, "rect": layer.rect.as_list() if layer.rect else None,
                            "source": layer.source} for layer in scene.layers]}

    def _output(self, name: str) -> str:
        if name not in self.config.outputs:
            raise Refusal(404, f"unknown output {name!r}; outputs: {', '.join(self.config.outputs)}")
        return name

    async def start_output(self, name: str, actor: str = "operator") -> dict[str, Any]:
        await asyncio.to_thread(self.engine.start_output, self._output(name), actor)
        return self.engine.outputs[name].info()

    async def stop_output(self, name: str, actor: str = "operator") -> dict[str, Any]:
        await asyncio.to_thread(self.engine.stop_output, self._output(name), actor)
        return self.engine.outputs[name].info()

    async def set_source_audio(self, name: str, gain_db: Any = None, muted: Any = None, actor: str = "operator") -> dict[str, Any]:
        if name not in self.engine.slots:
            raise Refusal(404, f"unknown source {name!r}; sources: {', '.join(self.engine.slots)}")
        if gain_db is None and muted is None:
            raise Refusal(422, f"give gain_db (number, {GAIN_DB_MIN}..{GAIN_DB_MAX}) and/or muted (true/false)")
        if gain_db is not None and (isinstance(gain_db, bool) or not isinstance(gain_db, (int, float))
                                    or not GAIN_DB_MIN <= gain_db <= GAIN_DB_MAX):
            raise Refusal(422, f"gain_db must be a number from {GAIN_DB_MIN} to {GAIN_DB_MAX}")
        if muted is not None and not isinstance(muted, bool):
            raise Refusal(422, "muted must be true or false")
        slot = self.engine.slots[name]
        if gain_db is not None:
            slot.gain_db = float(gain_db)
        if muted is not None:
            slot.muted = muted
        self.bus.publish("source_audio", name=name, gain_db=slot.gain_db, muted=slot.muted)
        return {"name": name, "gain_db": slot.gain_db, "muted": slot.muted}

    # --- state ---------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything a client needs to draw the panel from scratch."""
        cfg = self.config
        state: dict[str, Any] = {
            "show": {"name": cfg.name, "width": cfg.video.width, "height": cfg.video.height, "fps": cfg.video.fps,
                     "started_at": self.started_at, "on_air_s": round(time.time() - self.started_at, 1) if self.started_at else 0,
                     "transition": cfg.transition, "transition_ms": cfg.transition_ms},
            "program": self.engine.program,
            "preview": self.engine.preview,
            "transition": self.engine.transition_info(),
            "scenes": [{"name": s.name, "label": s.label or s.name, "sources": list(s.visible_sources())}
                       for s in cfg.scenes.values()],
            "sources": [slot.info() for slot in self.engine.slots.values()],
            "outputs": [{**o.info(), "canvas": o.config.canvas} for o in self.engine.outputs.values()],
            "linked": self.engine.linked,
            "canvases": [{"name": c.name, "label": c.label, "width": c.width, "height": c.height,
                          "program": c.program, "preview": c.preview, "transition": c.transition_info(self.engine.frame_index),
                          "outputs": list(c.outputs)} for c in self.engine.canvases.values()],
            "engine": self.engine.stats(),
            "levels": self.engine.levels(),
            "log": list(self.bus.history),
        }
        if self.public_service is not None:
            state["apply_service"] = {**self.public_service.info(), "url": f"{self.apply_base}/apply"}
        if self.rundown is not None:
            state["rundown"] = self.rundown.info()
        if self.jobfair is not None:
            try:
                state["jobfair"] = self.jobfair.stats()
            except Exception:
                log.exception("job-fair stats failed")
        return state
