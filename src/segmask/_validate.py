"""Checks shared by the public functions: image sizes and string options."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from .errors import InputError


def image_size(value: object, name: str = "image_size") -> tuple[int, int]:
    """Return ``(height, width)`` as Python ints, or raise :class:`InputError`."""
    if not isinstance(value, Sequence | tuple) or isinstance(value, str | bytes) or len(value) != 2:
        raise InputError(f"{name} must be (height, width), got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 1:
            raise InputError(f"{name} must be two positive integers (height, width), got {value!r}")
        out.append(int(v))
    return out[0], out[1]


def choice(name: str, value: object, options: Sequence[str]) -> str:
    """Resolve a string option, listing the valid ones on error."""
    if not isinstance(value, str) or value not in options:
        valid = ", ".join(repr(o) for o in options)
        raise InputError(f"{name} must be one of {valid}, got {value!r}")
    return value
