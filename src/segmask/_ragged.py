"""Ragged data kept flat: one values array and ``(N + 1,)`` int64 offsets.

Item ``i`` is ``values[offsets[i]:offsets[i + 1]]``: the layout of every
batch in segmask (polygons' points, masks' runs, rings).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _kernel

__all__ = ["offsets", "take"]


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


def take(
    values: NDArray[Any], offsets_: NDArray[np.int64], sel: NDArray[np.int64]
) -> tuple[NDArray[Any], NDArray[np.int64]]:
    """Items ``sel`` (int64, checked by the caller) of a ragged batch, in that order: ``(values, offsets)``.

    ``values`` may have trailing axes (points are ``(P, 2)``); its first axis
    is the ragged one. One copy per item, no index array of every row.

    Examples
    --------
    >>> v, o = take(np.arange(5), np.array([0, 2, 2, 5]), np.array([2, 0]))
    >>> v.tolist(), o.tolist()
    ([2, 3, 4, 0, 1], [0, 3, 5])
    """
    out, out_offsets = _kernel.buffers.take_ragged(
        np.ascontiguousarray(values), offsets_, np.ascontiguousarray(sel, np.int64)
    )
    return out, out_offsets
