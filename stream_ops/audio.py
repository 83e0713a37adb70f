"""The audio mixer and level meters (numpy, per program frame).

Every slot is drained every frame, heard or not, so its ring never fills with
stale sound; only the sources a scene hears are summed, with their gain.
Levels are dBFS: peak and RMS, per source (after gain, before mute) and program.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .sources.base import SourceSlot

FLOOR_DB = -90.0


def db_to_gain(db: float) -> float:
    return 10 ** (db / 20)


def level_db(value: float) -> float:
    return FLOOR_DB if value <= 0 else max(FLOOR_DB, 20 * math.log10(value / 32768))


@dataclass
class Meter:
    """Peak and mean-square over a window (reset each time it is read)."""

    peak: float = 0.0
    sumsq: float = 0.0
    count: int = 0

    def add(self, samples: np.ndarray) -> None:
        if samples.size == 0:
            return
        f = np.asarray(samples, np.float32)   # no copy for the mixer's float32 samples
        self.peak = max(self.peak, float(np.abs(f).max()))
        self.sumsq += float(np.square(f).sum())
        self.count += f.size

    def read(self) -> dict[str, float]:
        rms = math.sqrt(self.sumsq / self.count) if self.count else 0.0
        out = {"peak_db": round(level_db(self.peak), 1), "rms_db": round(level_db(rms), 1)}
        self.peak, self.sumsq, self.count = 0.0, 0.0, 0
        return out


@dataclass
class Mixer:
    sample_rate: int
    channels: int
    meters: dict[str, Meter] = field(default_factory=dict)
    program_meter: Meter = field(default_factory=Meter)

    def mix(self, slots: dict[str, SourceSlot], weights: dict[str, float], n: int) -> np.ndarray:
        """n samples (n, channels) int16 of the program: sum of weight × gain × source."""
        acc = np.zeros((n, self.channels), np.float32)
        for name, slot in slots.items():
            pcm = slot.pull_audio(n)
            meter = self.meters.setdefault(name, Meter())
            if pcm is None:
                continue
            gain = db_to_gain(slot.gain_db)
            scaled = pcm.astype(np.float32) * gain
            meter.add(scaled)
            weight = weights.get(name, 0.0)
            if weight > 0 and not slot.muted:
                acc += scaled * weight
        out = np.clip(acc, -32768, 32767).astype(np.int16)
        self.program_meter.add(out)
        return out

    def read_levels(self) -> dict[str, object]:
        return {"program": self.program_meter.read(),
                "sources": {name: m.read() for name, m in self.meters.items()}}
