"""Helpers for ragged data kept flat: one values array plus an offsets array.

A batch of N variable-length items (polygons, crops, RLE counts) is stored as
one flat array and an ``(N + 1,)`` int64 ``offsets`` array, item ``i`` being
``values[offsets[i]:offsets[i + 1]]``. These helpers keep the batch work in a
few numpy calls.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def offsets_from_lengths(lengths: NDArray[np.int64]) -> NDArray[np.int64]:
    """``(N,)`` lengths -> ``(N + 1,)`` offsets starting at 0."""
    out = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=out[1:])
    return out


def item_ids(offsets: NDArray[np.int64]) -> NDArray[np.int64]:
    """For each flat element, the index of the item it belongs to."""
    lengths = np.diff(offsets)
    return np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)


def local_index(offsets: NDArray[np.int64]) -> NDArray[np.int64]:
    """For each flat element, its position inside its own item."""
    lengths = np.diff(offsets)
    total = int(offsets[-1]) - int(offsets[0])
    out: NDArray[np.int64] = np.arange(total, dtype=np.int64) - np.repeat(offsets[:-1] - offsets[0], lengths)
    return out


def concat_ranges(starts: NDArray[np.int64], lengths: NDArray[np.int64]) -> NDArray[np.int64]:
    """Concatenation of ``arange(s, s + n)`` for each start ``s`` and length ``n``."""
    lengths = np.asarray(lengths, dtype=np.int64)
    offsets = offsets_from_lengths(lengths)
    return np.repeat(np.asarray(starts, dtype=np.int64), lengths) + local_index(offsets)


def segment_sum(values: NDArray[np.generic], offsets: NDArray[np.int64]) -> NDArray[np.int64]:
    """Sum of each item (0 for empty items), exact in int64."""
    lengths = np.diff(offsets)
    out = np.zeros(len(lengths), dtype=np.int64)
    full = np.flatnonzero(lengths > 0)
    if full.size:
        out[full] = np.add.reduceat(values, offsets[:-1][full], dtype=np.int64)
    return out
