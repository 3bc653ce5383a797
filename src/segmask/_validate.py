"""Checks shared by the public functions: sizes, numbers, string options and small arrays.

Each names the argument and what was wrong; numpy scalars pass wherever a
Python number does, bools never pass as numbers.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from . import limits
from .errors import InputError

__all__ = ["choice", "fraction", "image_size", "integer", "integers", "number", "scores"]


def image_size(value: object, name: str = "image_size") -> tuple[int, int]:
    """Return ``(height, width)`` as Python ints, or raise :class:`InputError`.

    Both must be positive integers (numpy's too) with ``height * width``
    under :data:`segmask.limits.MAX_IMAGE_PIXELS`.
    """
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        h, w = value  # the usual form: two Python ints
        if h >= 1 and w >= 1 and h * w <= limits.MAX_IMAGE_PIXELS:
            return h, w
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if not isinstance(value, Sequence) or isinstance(value, str | bytes) or len(value) != 2:
        raise InputError(f"{name} must be (height, width), got {_short(value)}")
    out = []
    for v in value:
        if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Integral) or v < 1:
            raise InputError(f"{name} must be two positive integers (height, width), got {_short(value)}")
        out.append(int(v))
    h, w = out
    if h * w > limits.MAX_IMAGE_PIXELS:
        raise InputError(
            f"{name} ({h}, {w}) has {h * w} pixels; segmask handles images below 2**32 pixels "
            "(pycocotools' run lengths are 32-bit), e.g. 65535 x 65535"
        )
    return h, w


def choice(name: str, value: object, options: Sequence[str]) -> str:
    """Resolve a string option, listing the valid ones on error."""
    if not isinstance(value, str) or value not in options:
        valid = ", ".join(repr(o) for o in options)
        raise InputError(f"{name} must be one of {valid}, got {_short(value)}")
    return value


def number(value: object, name: str, low: float = -math.inf, high: float = math.inf) -> float:
    """A finite real number in ``[low, high]`` (numpy scalars accepted, bools not)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a number, got {_short(value)}")
    v = float(value)
    if not math.isfinite(v) or not low <= v <= high:
        where = f" in [{low:g}, {high:g}]" if math.isfinite(low) or math.isfinite(high) else ""
        raise InputError(f"{name} must be a finite number{where}, got {_short(value)}")
    return v


def integer(value: object, name: str, low: int | None = None, high: int | None = None) -> int:
    """An integer (numpy's too, bools not) in ``[low, high]``."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be an integer, got {_short(value)}")
    v = int(value)
    if (low is not None and v < low) or (high is not None and v > high):
        bounds = f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
        raise InputError(f"{name} must be an integer in {bounds}, got {v}")
    return v


def fraction(value: object, name: str) -> float:
    """A number in [0, 1]: a threshold or a confidence."""
    return number(value, name, 0.0, 1.0)


def scores(value: object, n: int, name: str = "scores") -> NDArray[np.float64]:
    """``(n,)`` finite float64 values, one per item."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be {n} numbers, got {_short(value)}") from None
    if arr.shape != (n,):
        raise InputError(f"{name} must have shape ({n},), one per item, got {arr.shape}")
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise InputError(f"{name}[{int(bad[0])}] is {arr[bad[0]]}, expected a finite number")
    return arr


def integers(value: object, n: int, name: str) -> NDArray[np.int64]:
    """``(n,)`` int64 labels (any integer dtype)."""
    arr = np.asarray(value)
    if arr.shape != (n,) or (arr.size and arr.dtype.kind not in "iu"):
        raise InputError(f"{name} must be {n} integers, got shape {arr.shape} of {arr.dtype}")
    return arr.astype(np.int64)


def flags(value: object, n: int, name: str) -> NDArray[np.uint8]:
    """``(n,)`` 0/1 bytes from bools or 0/1 ints."""
    arr = np.asarray(value)
    if arr.shape != (n,) or (arr.size and arr.dtype.kind not in "biu") or (arr.size and not np.isin(arr, (0, 1)).all()):
        raise InputError(f"{name} must be {n} bools or 0/1 ints, got {_short(value)}")
    return arr.astype(np.uint8)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
