"""Polygon input: coerce and check once, then keep flat with offsets.

A batch of N polygons becomes ``coords`` ``(P, 2)`` float64 in ``x, y`` order
and ``offsets`` ``(N + 1,)`` int64; polygon ``i`` is
``coords[offsets[i]:offsets[i + 1]]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import _kernel, _ragged, limits
from .errors import PolygonError


def as_polygon_batch(
    polygons: Sequence[Any] | NDArray[np.floating], name: str = "polygons"
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Check a sequence of polygons and return ``(coords, offsets)``.

    Each polygon is a ``(K, 2)`` array or nested ``[[x, y], ...]`` list, or a
    flat ``[x0, y0, x1, y1, ...]`` list (COCO's form), with K >= 3 finite points.
    A 3-D array ``(N, K, 2)`` is N polygons of K points.

    Raises
    ------
    PolygonError
        Naming the polygon index (and point) and what is wrong.
    """
    fast = fast_batch(polygons)
    return fast if fast is not None else checked_batch(polygons, name)


def fast_batch(polygons: object) -> tuple[NDArray[np.float64], NDArray[np.int64]] | None:
    """The kernel's reading of a list of polygons in their common forms, all valid; None for anything else."""
    if type(polygons) is list:
        batch: tuple[NDArray[np.float64], NDArray[np.int64]] | None = _kernel.fill.read_polygons(
            polygons, limits.MAX_COORD
        )
        return batch
    return None


def checked_batch(
    polygons: Sequence[Any] | NDArray[np.floating], name: str = "polygons"
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """:func:`as_polygon_batch` polygon by polygon, naming the first problem."""
    if isinstance(polygons, np.ndarray):
        if polygons.ndim != 3 or polygons.shape[-1] != 2:
            raise PolygonError(
                f"{name} as an array must be (N, K, 2), got shape {polygons.shape}; for one polygon pass [polygon]"
            )
        items: Sequence[Any] = list(polygons)
    elif isinstance(polygons, str | bytes | dict) or not isinstance(polygons, Sequence):
        raise PolygonError(f"{name} must be a sequence of polygons, got {type(polygons).__name__}")
    else:
        items = polygons
    arrays = [_one_polygon(p, f"{name}[{i}]") for i, p in enumerate(items)]
    coords = np.concatenate(arrays) if arrays else np.zeros((0, 2), np.float64)
    offsets = _ragged.offsets(len(a) for a in arrays)
    check_coordinates(coords, offsets, np.arange(len(arrays)), name)
    return coords, offsets


def check_coordinates(
    coords: NDArray[np.float64], offsets: NDArray[np.int64], owners: NDArray[np.int64], name: str = "polygons"
) -> None:
    """Raise :class:`PolygonError` for a NaN, infinite or too distant coordinate.

    Checked once for a whole batch of rings; ``owners`` gives the polygon of
    each ring, for the message.
    """
    bound = limits.MAX_COORD
    bad = ~np.isfinite(coords) | (np.abs(coords) > bound)
    if not bad.any():
        return
    flat, axis = (int(v) for v in np.argwhere(bad)[0])
    ring = int(np.searchsorted(offsets, flat, side="right") - 1)
    value = coords[flat, axis]
    where = f"{name}[{int(owners[ring])}] point {flat - offsets[ring]} has {'xy'[axis]} = "
    if np.isfinite(value):
        raise PolygonError(f"{where}{value:.6g}, beyond the supported ±{bound:.0f} px")
    raise PolygonError(f"{where}{value}; coordinates must be finite")


def _one_polygon(poly: Any, where: str) -> NDArray[np.float64]:
    """Shape checks for one polygon; its values are checked with the batch."""
    if type(poly) is np.ndarray and poly.dtype == np.float64 and poly.ndim == 2 and poly.shape[1] == 2:
        if len(poly) < 3:
            raise PolygonError(f"{where} has {len(poly)} points; a polygon needs at least 3")
        return poly
    if isinstance(poly, str | bytes | dict):
        raise PolygonError(f"{where} must be (K, 2) points or a flat x, y list, got {type(poly).__name__}")
    try:
        arr = np.asarray(poly)
    except ValueError:
        raise PolygonError(f"{where} is ragged: every point must be one x, y pair") from None
    if arr.dtype.kind not in "iuf" and arr.size:
        raise PolygonError(f"{where} holds {arr.dtype} values, expected numbers")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim == 1:
        if arr.size % 2:
            raise PolygonError(f"{where} is a flat list of {arr.size} numbers; it needs x, y pairs (an even count)")
        arr = arr.reshape(-1, 2)
    elif arr.ndim != 2 or arr.shape[1] != 2:
        raise PolygonError(f"{where} must have shape (K, 2), got {arr.shape}")
    if len(arr) < 3:
        raise PolygonError(f"{where} has {len(arr)} points; a polygon needs at least 3")
    return arr
