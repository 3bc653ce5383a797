"""Ragged data kept flat: one values array and ``(N + 1,)`` int64 offsets.

Item ``i`` is ``values[offsets[i]:offsets[i + 1]]``: the layout of every
batch in segmask (polygons' points, masks' runs, rings).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from numpy.typing import NDArray

__all__ = ["offsets", "ranges"]


def offsets(lengths: NDArray[np.integer] | Iterable[int]) -> NDArray[np.int64]:
    """``(N,)`` lengths -> ``(N + 1,)`` int64 offsets starting at 0.

    Examples
    --------
    >>> offsets([2, 0, 3]).tolist()
    [0, 2, 2, 5]
    """
    sizes = np.fromiter(lengths, np.int64) if not isinstance(lengths, np.ndarray) else lengths
    out = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum(sizes, out=out[1:])
    return out


def ranges(starts: NDArray[np.int64], lengths: NDArray[np.int64]) -> NDArray[np.int64]:
    """Concatenation of ``arange(s, s + n)`` for each start ``s`` and length ``n``.

    Examples
    --------
    >>> ranges(np.array([5, 0]), np.array([2, 3])).tolist()
    [5, 6, 0, 1, 2]
    """
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, np.int64)
    return np.repeat(starts - (np.cumsum(lengths) - lengths), lengths) + np.arange(total, dtype=np.int64)
