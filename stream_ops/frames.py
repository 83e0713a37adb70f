"""Raw picture helpers. A frame is a numpy uint8 array of shape (h*3//2, w):
yuv420p planes packed one after another (I420), the layout ffmpeg's rawvideo
gives and PyAV's `VideoFrame.from_ndarray(..., format="yuv420p")` takes.

Scaling goes through libswscale (PyAV), never through Python loops.
"""
from __future__ import annotations

from typing import Any

import av
import numpy as np


def blank(w: int, h: int, y: int = 16, u: int = 128, v: int = 128) -> np.ndarray:
    """A solid frame; defaults to video black."""
    arr = np.empty((h * 3 // 2, w), np.uint8)
    arr[:h] = y
    cy, cu, cv = split(arr, w, h)
    cu[:] = u
    cv[:] = v
    return arr


def split(arr: np.ndarray, w: int, h: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes (no copy). U and V are (h/2, w/2)."""
    # The chroma rows of a packed frame are w wide but hold two half-width lines each;
    # reshaping needs contiguous memory, which every frame made here has.
    chroma = arr[h:].reshape(2, h // 2, w // 2)
    return arr[:h], chroma[0], chroma[1]


def from_bytes(buf: bytes | memoryview, w: int, h: int) -> np.ndarray:
    """Wrap one rawvideo yuv420p frame without copying."""
    return np.frombuffer(buf, np.uint8).reshape(h * 3 // 2, w)


def to_video_frame(arr: np.ndarray) -> av.VideoFrame:
    return av.VideoFrame.from_ndarray(arr, format="yuv420p")


def scale(arr: np.ndarray, w: int, h: int) -> np.ndarray:
    """Resize with libswscale; returns a new packed frame."""
    src_h = arr.shape[0] * 2 // 3
    if arr.shape[1] == w and src_h == h:
        return arr
    return to_video_frame(arr).reformat(width=w, height=h, format="yuv420p").to_ndarray()


def from_video_frame(frame: av.VideoFrame, w: int, h: int, fit: str = "contain") -> np.ndarray:
    """Any decoded frame (aiortc, PyAV) into a w×h packed yuv420p frame.

    `contain` keeps the aspect ratio and pads with black, `cover` crops the
    overflow, `stretch` fills exactly.
    """
    if fit == "stretch" or (frame.width * h == frame.height * w):
        return frame.reformat(width=w, height=h, format="yuv420p").to_ndarray()
    fw, fh = fitted_size(frame.width, frame.height, w, h, fit)
    scaled = frame.reformat(width=fw, height=fh, format="yuv420p").to_ndarray()
    return place(scaled, fw, fh, w, h)


def fitted_size(sw: int, sh: int, w: int, h: int, fit: str) -> tuple[int, int]:
    """Even size of a sw×sh picture fitted into w×h (contain) or over it (cover)."""
    ratio = min(w / sw, h / sh) if fit == "contain" else max(w / sw, h / sh)
    fw = max(2, int(round(sw * ratio / 2)) * 2)
    fh = max(2, int(round(sh * ratio / 2)) * 2)
    return fw, fh


def place(src: np.ndarray, sw: int, sh: int, w: int, h: int) -> np.ndarray:
    """Centre an sw×sh frame on a black w×h frame, cropping any overflow."""
    out = blank(w, h)
    oy, ou, ov = split(out, w, h)
    iy, iu, iv = split(src, sw, sh)
    dx, dy = (w - sw) // 2, (h - sh) // 2
    # Source and destination windows, clipped to both frames; even offsets keep chroma aligned.
    x0, y0 = max(dx, 0) & ~1, max(dy, 0) & ~1
    sx0, sy0 = max(-dx, 0) & ~1, max(-dy, 0) & ~1
    cw, ch = min(w - x0, sw - sx0) & ~1, min(h - y0, sh - sy0) & ~1
    oy[y0:y0 + ch, x0:x0 + cw] = iy[sy0:sy0 + ch, sx0:sx0 + cw]
    ou[y0 // 2:(y0 + ch) // 2, x0 // 2:(x0 + cw) // 2] = iu[sy0 // 2:(sy0 + ch) // 2, sx0 // 2:(sx0 + cw) // 2]
    ov[y0 // 2:(y0 + ch) // 2, x0 // 2:(x0 + cw) // 2] = iv[sy0 // 2:(sy0 + ch) // 2, sx0 // 2:(sx0 + cw) // 2]
    return out


def yuv_of(r: Any, g: Any, b: Any) -> tuple[Any, Any, Any]:
    """BT.601 limited range, the matrix x264 and players assume here: Y, U, V as floats
    (of scalars, or element-wise of numpy planes)."""
    y = 16 + (65.738 * r + 129.057 * g + 25.064 * b) / 256
    u = 128 + (-37.945 * r - 74.494 * g + 112.439 * b) / 256
    v = 128 + (112.439 * r - 94.154 * g - 18.285 * b) / 256
    return y, u, v


def rgb_to_yuv(r: float, g: float, b: float) -> tuple[int, int, int]:
    y, u, v = yuv_of(r, g, b)
    return int(round(y)), int(round(u)), int(round(v))


def from_rgb(rgb: np.ndarray) -> np.ndarray:
    """An (h, w, 3) uint8 RGB picture as a packed yuv420p frame (libswscale)."""
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24").reformat(format="yuv420p").to_ndarray()


def parse_color(text: str) -> tuple[int, int, int, int]:
    """'#rrggbb' or '#rrggbbaa' -> (r, g, b, a)."""
    s = text.lstrip("#")
    if len(s) not in (6, 8):
        raise ValueError(f"colour {text!r}: write #rrggbb or #rrggbbaa")
    r, g, b = int(s[0:2], 16), int(s[2:4], 16), int(s[4:6], 16)
    a = int(s[6:8], 16) if len(s) == 8 else 255
    return r, g, b, a


def solid(w: int, h: int, color: str) -> np.ndarray:
    r, g, b, _ = parse_color(color)
    return blank(w, h, *rgb_to_yuv(r, g, b))


def mean_rgb(arr: np.ndarray, w: int, h: int, x: int, y: int, rw: int, rh: int) -> tuple[float, float, float]:
    """Average colour of a region, for tests and the benchmarks' colour probes."""
    yy, uu, vv = split(arr, w, h)
    Y = float(yy[y:y + rh, x:x + rw].mean()) - 16
    U = float(uu[y // 2:(y + rh) // 2, x // 2:(x + rw) // 2].mean()) - 128
    V = float(vv[y // 2:(y + rh) // 2, x // 2:(x + rw) // 2].mean()) - 128
    r = 1.164 * Y + 1.596 * V
    g = 1.164 * Y - 0.392 * U - 0.813 * V
    b = 1.164 * Y + 2.017 * U
    return tuple(max(0.0, min(255.0, c)) for c in (r, g, b))  # type: ignore[return-value]
