"""The media engine: source slots, the program clock, one encode per canvas, the outputs.

A `Canvas` is one picture the show composes (main, from `video:`; portrait...): its own
program, preview and transition, compositor, encoder and outputs. Sources are decoded
once and drawn on every canvas.

Threads, and why:
- clock: ticks at the show's fps on the monotonic clock, applies queued commands
  at the frame boundary, composites every canvas's program (and a fade when one
  runs) and mixes audio once. It never waits for a source: a stale one draws its slate.
- encoder, one per canvas: x264 + AAC in PyAV (releases the GIL), then hands each
  packet to its canvas's outputs' bounded queues (`Output.offer`, never blocks). One
  thread each, so a slow portrait encode cannot make the main program late.
- status: a few times a second, marks stale sources, refreshes output state,
  publishes levels (10/s) and engine figures (1/s) as events.
Commands from the asyncio side arrive through `submit()` and come back as futures.
"""
from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
import time
from typing import Any, Callable

import numpy as np

from . import frames
from .audio import Mixer
from .compositor import Compositor, slate_frame
from .config import MAIN_CANVAS, CanvasConfig, ShowConfig
from .editlist import ProgramEvent, ProgramLog
from .encoder import Encoder
from .events import EventBus
from .geometry import slot_sizes
from .layouts import scene_layers
from .outputs import Output, output_class
from .sources import Source, SourceSlot, source_class
from .transitions import Transition, crossfade_gains

log = logging.getLogger(__name__)

ENCODER_QUEUE = 4     # frames; beyond this the encoder is late and the clock drops
KEYFRAME_ON_DEMAND_S = 0.5


class Canvas:
    """One canvas on air: what it shows (program, preview, transition), how (compositor,
    encoder), where it goes (outputs) and its figures. The engine's clock drives it."""

    def __init__(self, config: CanvasConfig, show: ShowConfig, slots: dict[str, SourceSlot],
                 context: Callable[[], dict[str, Any]], program: str, preview: str) -> None:
        self.config = config
        self.name, self.label = config.name, config.label or config.name
        self.width, self.height = config.width, config.height
        self.program, self.preview = program, preview
        self.transition: Transition | None = None
        self.last_program: np.ndarray | None = None
        self.compositor = Compositor(show, slots, self.width, self.height, context, canvas=self.name)
        self.encoder = Encoder(config.video(show.video), show.audio)
        self.outputs: dict[str, Output] = {}
        self.program_log = ProgramLog(show.video.fps)   # the edit list its recordings write next to themselves
        self.frames: queue.Queue[tuple[int, np.ndarray, np.ndarray] | None] = queue.Queue(ENCODER_QUEUE)
        self.frames_out = 0
        self.encoder_drops = 0        # frames the encoder could not take in time
        self.render_errors = 0
        self.max_gap_ms = 0.0
        self.composite_ms = 0.0
        self.encode_ms = 0.0
        self.fps_window: list[float] = []

    def transition_info(self, frame_index: int) -> dict[str, Any] | None:
        t = self.transition
        if t is None:
            return None
        return {"kind": t.kind, "from": t.from_scene, "to": t.to_scene, "progress": round(t.progress(frame_index), 2)}

    def stats(self, late_frames: int) -> dict[str, Any]:
        now = time.monotonic()
        self.fps_window = [t for t in self.fps_window if now - t <= 2.0]
        return {"fps": round(len(self.fps_window) / 2.0, 1), "frames": self.frames_out, "late_frames": late_frames,
                "encoder_drops": self.encoder_drops, "render_errors": self.render_errors,
                "max_gap_ms": round(self.max_gap_ms, 1), "composite_ms": round(self.composite_ms, 2),
                "encode_ms": round(self.encode_ms, 2), "width": self.width, "height": self.height}


class Engine:
    def __init__(self, config: ShowConfig, bus: EventBus, context: Callable[[], dict[str, Any]] = dict) -> None:
        self.config = config
        self.bus = bus
        self.context = context
        v, a = config.video, config.audio
        self.width, self.height, self.fps = v.width, v.height, v.fps
        sizes = slot_sizes(config)
        self.slots: dict[str, SourceSlot] = {}
        self.sources: dict[str, Source] = {}
        for name, sc in config.sources.items():
            w, h = sizes.get(name, (320, 180))
            slot = SourceSlot(sc, w, h, a.sample_rate, a.channels)
            slot.on_change(self._source_changed)
            self.slots[name] = slot
            self.sources[name] = source_class(sc.kind)(slot, self._emit_log)
        if config.iso:
            for name in config.iso.sources:
                self.sources[name].record_iso(config.iso.path, config.name, config.base_dir)
        scenes = list(config.scenes)
        program = config.start_scene
        preview = next((s for s in scenes if s != program), program)
        self.canvases: dict[str, Canvas] = {
            name: Canvas(cc, config, self.slots, context, program, preview)
            for name, cc in config.all_canvases().items()}
        self.main = self.canvases[MAIN_CANVAS]
        self.linked = True            # a command without a canvas reaches every canvas
        self.program_log = self.main.program_log     # the main program's edit list
        self.outputs: dict[str, Output] = {}
        for name, oc in config.outputs.items():
            canvas = self.canvases[oc.canvas]
            out = output_class(oc.kind)(oc, canvas.encoder.templates, self._output_changed, self._emit_log,
                                        v.fps, show_name=config.name, base_dir=config.base_dir)
            out.program_log = canvas.program_log
            self.outputs[name] = canvas.outputs[name] = out
        self.mixer = Mixer(a.sample_rate, a.channels)
        self._side_compositors: dict[tuple[str, int, int], Compositor] = {}
        self._side_lock = threading.Lock()
        self._commands: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.running = False
        self.stopping = False         # set by stop(): sources going quiet then is not a lost signal
        # figures
        self.frame_index = 0
        self.next_frame = 0           # the frame a command applied now first shows on
        self.late_frames = 0          # ticks the clock skipped because it was late
        self._last_levels: dict[str, Any] = {"program": {"peak_db": -90.0, "rms_db": -90.0}, "sources": {}}

    # --- the main canvas, as before there were several ---------------------------------------
    @property
    def program(self) -> str:
        return self.main.program

    @program.setter
    def program(self, scene: str) -> None:
        self.main.program = scene

    @property
    def preview(self) -> str:
        return self.main.preview

    @preview.setter
    def preview(self, scene: str) -> None:
        self.main.preview = scene

    @property
    def transition(self) -> Transition | None:
        return self.main.transition

    @property
    def last_program(self) -> np.ndarray | None:
        return self.main.last_program

    @property
    def compositor(self) -> Compositor:
        return self.main.compositor

    @property
    def encoder(self) -> Encoder:
        return self.main.encoder

    @property
    def frames_out(self) -> int:
        return self.main.frames_out

    @property
    def encoder_drops(self) -> int:
        return self.main.encoder_drops

    @property
    def max_gap_ms(self) -> float:
        return self.main.max_gap_ms

    # --- life cycle ---------------------------------------------------------------
    def start(self) -> None:
        for canvas in self.canvases.values():
            self._log_program(canvas, "cut", 0)
        self.running = True
        for src in self.sources.values():
            src.start()
        loops: list[tuple[Callable[..., None], str, tuple[Any, ...]]] = [(self._clock, "clock", ())]
        loops += [(self._encode_loop, "encoder" if c is self.main else f"encoder-{c.name}", (c,))
                  for c in self.canvases.values()]
        loops.append((self._status_loop, "status", ()))
        for target, name, args in loops:
            t = threading.Thread(target=target, args=args, name=f"engine-{name}", daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self) -> list[str]:
        """Stop outputs first (recordings finalized), then sources, then the clock.

        Returns what did not stop cleanly (empty when everything closed)."""
        self.stopping = True
        problems: list[str] = []
        for out in self.outputs.values():
            if out.desired == "running":
                try:
                    out.stop()
                except Exception as exc:
                    log.exception("stopping output %s", out.name)
                    problems.append(f"output {out.name}: {exc}")
        for src in self.sources.values():
            try:
                src.stop()
            except Exception as exc:
                log.exception("stopping source %s", src.slot.name)
                problems.append(f"source {src.slot.name}: {exc}")
        self._stop.set()
        for canvas in self.canvases.values():
            try:
                canvas.frames.put_nowait(None)
            except queue.Full:
                pass
        for t in self._threads:
            t.join(timeout=5)
        for canvas in self.canvases.values():
            canvas.encoder.close()
        self.running = False
        return problems

    # --- commands (run on the clock thread at a frame boundary) -----------------------
    def submit(self, fn: Callable[[], Any]) -> concurrent.futures.Future[Any]:
        fut: concurrent.futures.Future[Any] = concurrent.futures.Future()
        if not self.running:
            try:
                fut.set_result(fn())
            except Exception as exc:
                fut.set_exception(exc)
            return fut
        self._commands.put((fn, fut))
        return fut

    def _apply_commands(self) -> None:
        while True:
            try:
                fn, fut = self._commands.get_nowait()
            except queue.Empty:
                return
            try:
                fut.set_result(fn())
            except Exception as exc:
                fut.set_exception(exc)

    def targets(self, canvas: str | None) -> list[Canvas]:
        """The canvases a command reaches: the named one; without a name main, and every other when linked."""
        if canvas is not None:
            return [self.canvases[canvas]]
        return list(self.canvases.values()) if self.linked else [self.main]

    def set_program(self, scene: str, kind: str = "cut", duration_ms: int = 0, actor: str = "operator",
                    canvas: str | None = None) -> None:
        """Put `scene` on program. When it was the preview, the old program becomes the
        preview (as on a vision mixer), so TAKE always has something to take."""
        for c in self.targets(canvas):
            self._set_program(c, scene, kind, duration_ms, actor)

    def _set_program(self, c: Canvas, scene: str, kind: str, duration_ms: int, actor: str) -> None:
        fade = kind == "fade" and duration_ms > 0
        if scene == c.program:
            # Already there, or fading there: a fade goes on as it is; a cut ends it now.
            if c.transition is not None and not fade:
                old, c.transition = c.transition.from_scene, None
                self.bus.publish_threadsafe("program", scene=scene, previous=old, transition="cut", duration_ms=0,
                                            actor=actor, canvas=c.name)
            return
        old = c.program
        running = c.transition
        if fade and running is not None and running.from_scene == scene and not running.done(self.frame_index):
            # Taking back a fade still under way turns it round from the picture on air.
            c.transition = running.reversed(self.frame_index, duration_ms, self.fps)
        elif fade:
            c.transition = Transition.begin("fade", old, scene, self.frame_index, duration_ms, self.fps)
        else:
            c.transition = None
        c.program = scene
        self._log_program(c, "fade" if fade else "cut", duration_ms if fade else 0)
        self.bus.publish_threadsafe("program", scene=scene, previous=old, transition=kind, duration_ms=duration_ms,
                                    actor=actor, canvas=c.name)
        how_zh = f"淡化 fade {duration_ms} ms" if kind == "fade" else "切 cut"
        how_en = f"fade {duration_ms} ms" if kind == "fade" else "cut"
        where_zh = "" if c is self.main else f"{c.label} "
        where_en = "" if c is self.main else f" on canvas {c.name}"
        self._emit_log(f"{where_zh}节目 program {old} → {scene}（{how_zh}）", actor=actor,
                       en=f"program{where_en} {old} → {scene} ({how_en})")
        if scene == c.preview and old != scene:
            self._set_preview(c, old, actor)

    def _log_program(self, c: Canvas, transition: str, duration_ms: int) -> None:
        scene = self.config.scenes[c.program]
        iso = {name: (slot.iso_file, slot.iso_started) for name in scene.visible_sources()
               if (slot := self.slots[name]).iso_file is not None}
        c.program_log.add(ProgramEvent(self.next_frame, time.time(), c.program, scene.visible_sources(),
                                       transition, duration_ms, iso))

    def set_preview(self, scene: str, actor: str = "operator", canvas: str | None = None) -> None:
        for c in self.targets(canvas):
            self._set_preview(c, scene, actor)

    def _set_preview(self, c: Canvas, scene: str, actor: str) -> None:
        if scene != c.preview:
            c.preview = scene
            self.bus.publish_threadsafe("preview", scene=scene, actor=actor, canvas=c.name)

    def take(self, kind: str = "cut", duration_ms: int = 0, actor: str = "operator", canvas: str | None = None) -> None:
        """Preview goes to program; the old program becomes the preview (swap)."""
        for c in self.targets(canvas):
            if c.preview != c.program:
                self._set_program(c, c.preview, kind, duration_ms, actor)

    def set_linked(self, linked: bool, actor: str = "operator") -> None:
        """Link (one TAKE switches every canvas) or unlink the canvases. Re-linking cuts every
        other canvas to main's program and stages main's preview on it."""
        if linked == self.linked:
            return
        self.linked = linked
        self.bus.publish_threadsafe("link", linked=linked, actor=actor)
        if linked:
            self._emit_log("画布联动 canvases linked: one TAKE switches all", actor=actor,
                           en="canvases linked: one TAKE switches all")
            for c in self.canvases.values():
                if c is not self.main:
                    self._set_program(c, self.main.program, "cut", 0, actor)
                    self._set_preview(c, self.main.preview, actor)
        else:
            self._emit_log("画布分开 canvases unlinked: each switches on its own", actor=actor,
                           en="canvases unlinked: each switches on its own")

    def on_air(self) -> tuple[set[str], set[str]]:
        """The sources on program and in preview on any canvas, each canvas read in its own
        layout (a phone only the portrait program shows is on air too)."""
        def shown(scene: str, canvas: str) -> set[str]:
            return {l.source for l in scene_layers(self.config, scene, canvas) if l.kind == "source" and l.source}

        cs = self.canvases.values()
        return set().union(*(shown(c.program, c.name) for c in cs)), set().union(*(shown(c.preview, c.name) for c in cs))

    def transition_info(self, canvas: str = MAIN_CANVAS) -> dict[str, Any] | None:
        return self.canvases[canvas].transition_info(self.frame_index)

    def start_output(self, name: str, actor: str = "operator") -> None:
        out = self.outputs[name]
        if out.desired != "running":
            out.start()
            auto = actor == "system"
            self._emit_log(f"{'自动开始推流 autostart' if auto else '开始推流 start'} output {name}", actor=actor,
                           en=f"{'autostart' if auto else 'start'} output {name}")

    def stop_output(self, name: str, actor: str = "operator") -> None:
        out = self.outputs[name]
        if out.desired == "running":
            out.stop()
            self._emit_log(f"停止推流 stop output {name}", actor=actor)

    # --- the program clock ------------------------------------------------------------
    def _clock(self) -> None:
        period = 1.0 / self.fps
        sr = self.config.audio.sample_rate
        t0 = time.monotonic()
        n = 0
        audio_pos = 0
        while not self._stop.is_set():
            target = t0 + n * period
            delay = target - time.monotonic()
            if delay > 0:
                if self._stop.wait(delay):
                    break
            elif -delay >= period:
                # Late by a frame or more: skip those ticks (real time wins); pts keeps the gap honest.
                skip = int(-delay / period)
                n += skip
                self.late_frames += skip
            self.next_frame = n
            self._apply_commands()
            now = time.monotonic()
            self.frame_index = n
            weights: dict[str, float] = {}
            rendered: list[tuple[Canvas, np.ndarray]] = []
            for c in self.canvases.values():
                started = time.perf_counter()
                try:
                    canvas, heard = self._render_program(c, n, now)
                except Exception:
                    # A broken layer must never stop the program: repeat the last good frame.
                    c.render_errors += 1
                    if c.render_errors in (1, 10, 100) or c.render_errors % 1000 == 0:
                        log.exception("rendering %s on %s failed (%d times)", c.program, c.name, c.render_errors)
                        self._emit_log(f"场景 {c.program} 渲染出错，保持上一帧 rendering failed; showing the last good frame",
                                       level="error", en=f"scene {c.program} ({c.name}): rendering failed; showing the last good frame")
                    canvas = c.last_program if c.last_program is not None else frames.blank(c.width, c.height)
                    heard = {}
                if c is self.main:
                    weights = heard    # what is heard follows the main program (audio is mixed once)
                c.composite_ms = c.composite_ms * 0.95 + (time.perf_counter() - started) * 1000 * 0.05
                c.last_program = canvas
                rendered.append((c, canvas))
            samples_due = int((n + 1) * sr // self.fps) - audio_pos
            pcm = self.mixer.mix(self.slots, weights, max(0, samples_due))
            audio_pos += max(0, samples_due)
            for c, canvas in rendered:
                try:
                    c.frames.put_nowait((n, canvas, pcm))
                except queue.Full:
                    c.encoder_drops += 1
            n += 1

    def _render_program(self, c: Canvas, n: int, now: float) -> tuple[np.ndarray, dict[str, float]]:
        t = c.transition
        if t is not None and not t.done(n):
            p = t.progress(n)
            canvas = c.compositor.render_fade(t.from_scene, t.to_scene, p, now)
            g_out, g_in = crossfade_gains(p)
            weights = {s: g_out for s in self.config.scenes[t.from_scene].heard_sources()}
            for s in self.config.scenes[t.to_scene].heard_sources():
                weights[s] = max(weights.get(s, 0.0), g_in)
            return canvas, weights
        if t is not None:
            c.transition = None
        scene = c.program
        return c.compositor.render(scene, now), {s: 1.0 for s in self.config.scenes[scene].heard_sources()}

    def _encode_loop(self, c: Canvas) -> None:
        last = None
        forced_at = 0.0
        while True:
            item = c.frames.get()
            if item is None or self._stop.is_set():
                break
            n, canvas, pcm = item
            started = time.perf_counter()
            # An output that (re)connected waits for a keyframe: give it one now rather than
            # up to keyframe_s later (at most twice a second, so a flapping target cannot
            # turn the program into all keyframes).
            force = False
            if started - forced_at >= KEYFRAME_ON_DEMAND_S and any(o.waiting_keyframe for o in c.outputs.values()):
                force, forced_at = True, started
            try:
                packets = c.encoder.encode_video(canvas, n, keyframe=force) + c.encoder.encode_audio(pcm)
            except Exception:
                log.exception("encode failed at frame %d on %s", n, c.name)
                continue
            c.encode_ms = c.encode_ms * 0.95 + (time.perf_counter() - started) * 1000 * 0.05
            now = time.monotonic()
            if last is not None:
                c.max_gap_ms = max(c.max_gap_ms, (now - last) * 1000)
            last = now
            c.frames_out += 1
            c.fps_window.append(now)
            for packet in packets:
                for out in c.outputs.values():
                    out.offer(packet)

    # --- status -----------------------------------------------------------------------
    def _status_loop(self) -> None:
        tick = 0
        while not self._stop.wait(0.1):
            tick += 1
            try:
                self._status_tick(tick)
            except Exception:   # figures are best effort; the status thread must live on
                log.exception("status tick failed")

    def _status_tick(self, tick: int) -> None:
        now = time.monotonic()
        for slot in self.slots.values():
            slot.check_stale(now)
        self._last_levels = self.mixer.read_levels()
        self.bus.publish_threadsafe("levels", **self._last_levels)
        for out in self.outputs.values():
            out.refresh()     # a comparison; every tick so "live" ends within 0.1 s of the window
        if tick % 10 == 0:
            self.bus.publish_threadsafe("engine", **self.stats())
            for out in self.outputs.values():
                if out.desired == "running":
                    self.bus.publish_threadsafe("output_state", **out.info())
            for slot in self.slots.values():
                if slot.state == "live":
                    self.bus.publish_threadsafe("source_state", **slot.info())

    def stats(self) -> dict[str, Any]:
        """The main canvas's figures (as before there were several), and every canvas's under `canvases`."""
        per = {name: c.stats(self.late_frames) for name, c in self.canvases.items()}
        main = dict(per[MAIN_CANVAS])
        return {**{k: v for k, v in main.items() if k != "late_frames"}, "target_fps": self.fps,
                "late_frames": self.late_frames,
                "render_errors": sum(c.render_errors for c in self.canvases.values()),
                "canvases": {name: {k: v[k] for k in ("fps", "frames", "late_frames", "encoder_drops", "encode_ms",
                                                      "composite_ms", "width", "height")}
                             for name, v in per.items()}}

    def levels(self) -> dict[str, Any]:
        return self._last_levels

    # --- for the panel's thumbnails and tests -------------------------------------------
    def program_frame(self, canvas: str = MAIN_CANVAS) -> np.ndarray | None:
        return self.canvases[canvas].last_program

    def render_scene(self, scene: str, width: int, height: int, canvas: str = MAIN_CANVAS) -> np.ndarray:
        """Any scene's layout on `canvas` at any size (keep the canvas's shape), from any thread."""
        key = (canvas, width & ~1, height & ~1)
        with self._side_lock:
            comp = self._side_compositors.get(key)
            if comp is None:
                comp = self._side_compositors[key] = Compositor(self.config, self.slots, key[1], key[2], self.context,
                                                                canvas=canvas)
            return comp.render(scene)

    def slate(self, name: str, width: int, height: int) -> np.ndarray:
        label = self.config.sources[name].label or name if name in self.config.sources else name
        return slate_frame(label, width & ~1, height & ~1)

    # --- events ---------------------------------------------------------------------------
    def _source_changed(self, slot: SourceSlot) -> None:
        self.bus.publish_threadsafe("source_state", **slot.info())
        if self.stopping:
            return   # sources going quiet at shutdown are not lost signals
        if slot.state == "no_signal":
            self._emit_log(f"信号中断 source {slot.name}: no signal", level="warning", actor="engine")
        elif slot.state == "live":
            self._emit_log(f"信号正常 source {slot.name}: live", actor="engine")

    def _output_changed(self, out: Output) -> None:
        self.bus.publish_threadsafe("output_state", **out.info())

    def _emit_log(self, message: str, level: str = "info", actor: str = "engine", **extra: Any) -> None:
        self.bus.log_threadsafe(message, level=level, actor=actor, **extra)
