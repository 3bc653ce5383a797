"""Hypothesis strategies shared by the tests: polygons of every awkward kind, masks."""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import strategies as st

image_sizes = st.tuples(st.integers(1, 48), st.integers(1, 48))


@st.composite
def polygon(draw: st.DrawFn, h: int, w: int) -> np.ndarray:
    """One (K, 2) float64 polygon: convex, star-shaped, self-intersecting, tiny, huge or on the border."""
    kind = draw(st.sampled_from(["convex", "star", "random", "tiny", "huge", "border", "grid"]))
    k = draw(st.integers(3, 14))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    cx, cy = rng.uniform(-0.2 * w, 1.2 * w), rng.uniform(-0.2 * h, 1.2 * h)
    if kind in ("convex", "star"):
        angles = np.sort(rng.uniform(0, 2 * np.pi, k))
        r = rng.uniform(0.5, max(h, w), 1 if kind == "convex" else k)
        pts = np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], axis=1)
    elif kind == "random":  # usually self-intersecting
        pts = rng.uniform([-0.3 * w, -0.3 * h], [1.3 * w, 1.3 * h], size=(k, 2))
    elif kind == "tiny":
        pts = np.array([cx, cy]) + rng.uniform(-1.5, 1.5, size=(k, 2))
    elif kind == "huge":
        pts = rng.uniform([-10 * w, -10 * h], [11 * w, 11 * h], size=(k, 2))
    elif kind == "border":
        pts = rng.uniform([0, 0], [w, h], size=(k, 2))
        side = rng.integers(0, 4, size=k)
        pts[side == 0, 0] = 0
        pts[side == 1, 0] = w
        pts[side == 2, 1] = 0
        pts[side == 3, 1] = h
    else:  # on the 1/2 and 1/5 pixel grids, where rounding rules show
        pts = np.round(rng.uniform([-2, -2], [w + 2, h + 2], size=(k, 2)) * 10) / 10
    return pts.astype(np.float64)


@st.composite
def polygons_and_size(draw: st.DrawFn, max_n: int = 6) -> tuple[list[np.ndarray], tuple[int, int]]:
    h, w = draw(image_sizes)
    n = draw(st.integers(1, max_n))
    return [draw(polygon(h, w)) for _ in range(n)], (h, w)


@st.composite
def dense_masks(draw: st.DrawFn, max_n: int = 5) -> np.ndarray:
    """(N, H, W) bool: random pixels, blocks, full and empty masks."""
    h, w = draw(image_sizes)
    n = draw(st.integers(0, max_n))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    out = np.zeros((n, h, w), bool)
    for i in range(n):
        kind = draw(st.sampled_from(["noise", "block", "full", "empty", "sparse"]))
        if kind == "noise":
            out[i] = rng.random((h, w)) < rng.random()
        elif kind == "block":
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            out[i, y0 : rng.integers(y0, h + 1), x0 : rng.integers(x0, w + 1)] = True
        elif kind == "full":
            out[i] = True
        elif kind == "sparse":
            out[i] = rng.random((h, w)) < 0.03
    return out


@st.composite
def blob(draw: st.DrawFn) -> np.ndarray:
    """(H, W) uint8 random blob: thresholded smoothed noise, blocky or thin."""
    h, w = draw(image_sizes)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    noise = rng.random((h, w)).astype(np.float32)
    k = int(draw(st.sampled_from([1, 3, 5, 9])))
    smooth = cv2.GaussianBlur(noise, (k, k), 0) if k > 1 else noise
    return (smooth > draw(st.floats(0.3, 0.7))).astype(np.uint8)


#: Class names a format can hold: any text but a NUL character or a lone surrogate (those are refused).
class_names = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)
#: Class names no reader accepts: a NUL (at the end too, where numpy would drop it) or a lone surrogate inside.
unholdable_names = st.tuples(class_names, st.sampled_from(["\x00", "\ud800", "\udfff", "\x00\x00"]), class_names).map(
    "".join
)
