"""The media engine: source slots, the program clock, one encode, the outputs.

Threads, and why:
- clock: ticks at the show's fps on the monotonic clock, applies queued commands
  at the frame boundary, composites program (and a fade when one runs) and mixes
  audio. It never waits for a source: a stale one draws its slate.
- encoder: x264 + AAC in PyAV (releases the GIL), then hands each packet to every
  output's bounded queue (`Output.offer`, never blocks).
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
from .config import ShowConfig
from .editlist import ProgramEvent, ProgramLog
from .encoder import Encoder
from .events import EventBus
from .geometry import slot_sizes
from .outputs import Output, output_class
from .sources import Source, SourceSlot, source_class
from .transitions import Transition, crossfade_gains

log = logging.getLogger(__name__)

ENCODER_QUEUE = 4     # frames; beyond this the encoder is late and the clock drops
KEYFRAME_ON_DEMAND_S = 0.5


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
        self.program_log = ProgramLog(v.fps)     # the edit list recordings write next to themselves
        self.encoder = Encoder(v, a)
        self.outputs: dict[str, Output] = {}
        for name, oc in config.outputs.items():
            self.outputs[name] = output_class(oc.kind)(oc, self.encoder.templates, self._output_changed, self._emit_log,
                                                       v.fps, show_name=config.name, base_dir=config.base_dir)
            self.outputs[name].program_log = self.program_log
        scenes = list(config.scenes)
        self.program = config.start_scene
        self.preview = next((s for s in scenes if s != self.program), self.program)
        self.transition: Transition | None = None
        self.compositor = Compositor(config, self.slots, self.width, self.height, context)
        self.mixer = Mixer(a.sample_rate, a.channels)
        self._side_compositors: dict[tuple[int, int], Compositor] = {}
        self._side_lock = threading.Lock()
        self._commands: queue.SimpleQueue[tuple[Callable[[], Any], concurrent.futures.Future[Any]]] = queue.SimpleQueue()
        self._frames: queue.Queue[tuple[int, np.ndarray, np.ndarray] | None] = queue.Queue(ENCODER_QUEUE)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.running = False
        self.stopping = False         # set by stop(): sources going quiet then is not a lost signal
        self.last_program: np.ndarray | None = None
        # figures
        self.frame_index = 0
        self.next_frame = 0           # the frame a command applied now first shows on
        self.frames_out = 0
        self.late_frames = 0          # ticks the clock skipped because it was late
        self.encoder_drops = 0        # frames the encoder could not take in time
        self.render_errors = 0
        self.max_gap_ms = 0.0
        self._composite_ms = 0.0
        self._encode_ms = 0.0
        self._fps_window: list[float] = []
        self._last_levels: dict[str, Any] = {"program": {"peak_db": -90.0, "rms_db": -90.0}, "sources": {}}

    # --- life cycle ---------------------------------------------------------------
    def start(self) -> None:
        self._log_program("cut", 0)
        self.running = True
        for src in self.sources.values():
            src.start()
        for target, name in ((self._clock, "clock"), (self._encode_loop, "encoder"), (self._status_loop, "status")):
            t = threading.Thread(target=target, name=f"engine-{name}", daemon=True)
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
        try:
            self._frames.put_nowait(None)
        except queue.Full:
            pass
        for t in self._threads:
            t.join(timeout=5)
        self.encoder.close()
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

    def set_program(self, scene: str, kind: str = "cut", duration_ms: int = 0, actor: str = "operator") -> None:
        """Put `scene` on program. When it was the preview, the old program becomes the
        preview (as on a vision mixer), so TAKE always has something to take."""
        fade = kind == "fade" and duration_ms > 0
        if scene == self.program:
            # Already there, or fading there: a fade goes on as it is; a cut ends it now.
            if self.transition is not None and not fade:
                old, self.transition = self.transition.from_scene, None
                self.bus.publish_threadsafe("program", scene=scene, previous=old, transition="cut", duration_ms=0, actor=actor)
            return
        old = self.program
        running = self.transition
        if fade and running is not None and running.from_scene == scene and not running.done(self.frame_index):
            # Taking back a fade still under way turns it round from the picture on air.
            self.transition = running.reversed(self.frame_index, duration_ms, self.fps)
        elif fade:
            self.transition = Transition.begin("fade", old, scene, self.frame_index, duration_ms, self.fps)
        else:
            self.transition = None
        self.program = scene
        self._log_program("fade" if fade else "cut", duration_ms if fade else 0)
        self.bus.publish_threadsafe("program", scene=scene, previous=old, transition=kind, duration_ms=duration_ms, actor=actor)
        self._emit_log(f"节目 program {old} → {scene}（{'淡化 fade ' + str(duration_ms) + ' ms' if kind == 'fade' else '切 cut'}）", actor=actor, en=f"program {old} → {scene} ({'fade ' + str(duration_ms) + ' ms' if kind == 'fade' else 'cut'})")
        if scene == self.preview and old != scene:
            self.set_preview(old, actor)

    def _log_program(self, transition: str, duration_ms: int) -> None:
        scene = self.config.scenes[self.program]
        iso = {name: (slot.iso_file, slot.iso_started) for name in scene.visible_sources()
               if (slot := self.slots[name]).iso_file is not None}
        self.program_log.add(ProgramEvent(self.next_frame, time.time(), self.program, scene.visible_sources(),
                                          transition, duration_ms, iso))

    def set_preview(self, scene: str, actor: str = "operator") -> None:
        if scene != self.preview:
            self.preview = scene
            self.bus.publish_threadsafe("preview", scene=scene, actor=actor)

    def take(self, kind: str = "cut", duration_ms: int = 0, actor: str = "operator") -> None:
        """Preview goes to program; the old program becomes the preview (swap)."""
        if self.preview != self.program:
            self.set_program(self.preview, kind, duration_ms, actor)

    def transition_info(self) -> dict[str, Any] | None:
        t = self.transition
        if t is None:
            return None
        return {"kind": t.kind, "from": t.from_scene, "to": t.to_scene, "progress": round(t.progress(self.frame_index), 2)}

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
            started = time.perf_counter()
            try:
                canvas, weights = self._render_program(n, now)
            except Exception:
                # A broken layer must never stop the program: repeat the last good frame.
                self.render_errors += 1
                if self.render_errors in (1, 10, 100) or self.render_errors % 1000 == 0:
                    log.exception("rendering %s failed (%d times)", self.program, self.render_errors)
                    self._emit_log(f"场景 {self.program} 渲染出错，保持上一帧 rendering failed; showing the last good frame", level="error", en=f"scene {self.program}: rendering failed; showing the last good frame")
                canvas = self.last_program if self.last_program is not None else frames.blank(self.width, self.height)
                weights = {}
            samples_due = int((n + 1) * sr // self.fps) - audio_pos
            pcm = self.mixer.mix(self.slots, weights, max(0, samples_due))
            audio_pos += max(0, samples_due)
            self._composite_ms = self._composite_ms * 0.95 + (time.perf_counter() - started) * 1000 * 0.05
            self.last_program = canvas
            try:
                self._frames.put_nowait((n, canvas, pcm))
            except queue.Full:
                self.encoder_drops += 1
            n += 1

    def _render_program(self, n: int, now: float) -> tuple[np.ndarray, dict[str, float]]:
        t = self.transition
        if t is not None and not t.done(n):
            p = t.progress(n)
            canvas = self.compositor.render_fade(t.from_scene, t.to_scene, p, now)
            g_out, g_in = crossfade_gains(p)
            weights = {s: g_out for s in self.config.scenes[t.from_scene].heard_sources()}
            for s in self.config.scenes[t.to_scene].heard_sources():
                weights[s] = max(weights.get(s, 0.0), g_in)
            return canvas, weights
        if t is not None:
            self.transition = None
        scene = self.program
        return self.compositor.render(scene, now), {s: 1.0 for s in self.config.scenes[scene].heard_sources()}

    def _encode_loop(self) -> None:
        last = None
        forced_at = 0.0
        while True:
            item = self._frames.get()
            if item is None or self._stop.is_set():
                break
            n, canvas, pcm = item
            started = time.perf_counter()
            # An output that (re)connected waits for a keyframe: give it one now rather than
            # up to keyframe_s later (at most twice a second, so a flapping target cannot
            # turn the program into all keyframes).
            force = False
            if started - forced_at >= KEYFRAME_ON_DEMAND_S and any(o.waiting_keyframe for o in self.outputs.values()):
                force, forced_at = True, started
            try:
                packets = self.encoder.encode_video(canvas, n, keyframe=force) + self.encoder.encode_audio(pcm)
            except Exception:
                log.exception("encode failed at frame %d", n)
                continue
            self._encode_ms = self._encode_ms * 0.95 + (time.perf_counter() - started) * 1000 * 0.05
            now = time.monotonic()
            if last is not None:
                self.max_gap_ms = max(self.max_gap_ms, (now - last) * 1000)
            last = now
            self.frames_out += 1
            self._fps_window.append(now)
            for packet in packets:
                for out in self.outputs.values():
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
        now = time.monotonic()
        self._fps_window = [t for t in self._fps_window if now - t <= 2.0]
        return {
            "fps": round(len(self._fps_window) / 2.0, 1),
            "target_fps": self.fps,
            "frames": self.frames_out,
            "late_frames": self.late_frames,
            "encoder_drops": self.encoder_drops,
            "render_errors": self.render_errors,
            "max_gap_ms": round(self.max_gap_ms, 1),
            "composite_ms": round(self._composite_ms, 2),
            "encode_ms": round(self._encode_ms, 2),
            "width": self.width,
            "height": self.height,
        }

    def levels(self) -> dict[str, Any]:
        return self._last_levels

    # --- for the panel's thumbnails and tests -------------------------------------------
    def program_frame(self) -> np.ndarray | None:
        return self.last_program

    def render_scene(self, scene: str, width: int, height: int) -> np.ndarray:
        """Any scene at any size, from any thread (a compositor of its own per size)."""
        key = (width & ~1, height & ~1)
        with self._side_lock:
            comp = self._side_compositors.get(key)
            if comp is None:
                comp = self._side_compositors[key] = Compositor(self.config, self.slots, key[0], key[1], self.context)
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

