"""Tracing masks into rings with OpenCV, shared by the polygon exporters."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np
from numpy.typing import NDArray

from ._ragged import offsets_from_lengths
from .masks import Masks


def trace(ms: Masks) -> Iterator[tuple[int, list[NDArray[np.float64]], NDArray[np.intp]]]:
    """Each non-empty mask traced with ``cv2.findContours(RETR_CCOMP)``.

    Yields its index, its rings in image coordinates (a 1- or 2-point ring,
    a speck or a straight line, repeated to 3 points so that no pixel is
    lost) and OpenCV's hierarchy rows ``[next, previous, first child, parent]``.
    """
    for i, (pixels, x, y) in enumerate(ms._placed()):
        if not pixels.size:
            continue
        # A zero border, as findContours treats the edge as background anyway;
        # the corner, less that border, takes crop coordinates to the image's.
        contours, hierarchy = cv2.findContours(np.pad(pixels.astype(np.uint8), 1), cv2.RETR_CCOMP,
                                               cv2.CHAIN_APPROX_SIMPLE)  # fmt: skip
        corner = np.array([x - 1, y - 1], dtype=np.float64)
        rings = [np.resize(c[:, 0, :] + corner, (max(len(c), 3), 2)) for c in contours]
        yield i, rings, hierarchy[0]


def flat_rings(rings: list[NDArray[np.float64]]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """A list of (K, 2) rings as flat coordinates and offsets."""
    return np.concatenate(rings), offsets_from_lengths(np.array([len(r) for r in rings], dtype=np.int64))
