"""Boxes in three formats, named, and the one place that converts between them.

* ``"xywh"``: COCO's ``[x, y, width, height]``, the top-left corner and the size;
  what :attr:`Masks.boxes <segmask.Masks.boxes>` gives and the default everywhere;
* ``"xyxy"``: ``[x0, y0, x1, y1]``, two corners;
* ``"cxcywh"``: ``[cx, cy, width, height]``, the centre and the size, as the
  inference API sends them.

Every function that takes boxes takes ``format=`` and checks them once here.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _validate
from .errors import InputError

__all__ = ["BOX_FORMATS", "BoxFormat", "as_xywh", "convert_boxes"]

#: A box format.
BoxFormat = Literal["xywh", "xyxy", "cxcywh"]

#: The box formats.
BOX_FORMATS: tuple[BoxFormat, ...] = ("xywh", "xyxy", "cxcywh")


def _checked(boxes: ArrayLike, format: str, name: str) -> NDArray[np.float64]:
    format = _validate.choice("format", format, BOX_FORMATS)
    try:
        arr = np.asarray(boxes, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be (N, 4) {format} boxes, got {type(boxes).__name__}") from None
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InputError(f"{name} must be (N, 4) {format} boxes, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        i = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise InputError(f"{name}[{i}] = {arr[i].tolist()} is not finite")
    if format == "xyxy":
        neg = np.flatnonzero((arr[:, 2] < arr[:, 0]) | (arr[:, 3] < arr[:, 1]))
        what = "its second corner left of or above its first"
    else:
        neg = np.flatnonzero((arr[:, 2] < 0) | (arr[:, 3] < 0))
        what = "a negative width or height"
    if neg.size:
        i = int(neg[0])
        raise InputError(f"{name}[{i}] = {arr[i].tolist()} has {what} (format={format!r})")
    return arr


def as_xywh(boxes: ArrayLike, format: str = "xywh", name: str = "boxes") -> NDArray[np.float64]:
    """Checked boxes of any format as a C-contiguous (N, 4) float64 ``xywh`` array."""
    arr = _checked(boxes, format, name)
    return np.ascontiguousarray(_convert(arr, format, "xywh"))


def _convert(arr: NDArray[np.float64], source: str, target: str) -> NDArray[np.float64]:
    if source == target:
        return arr
    out = np.empty_like(arr)
    if source == "xyxy":
        x, y, w, h = arr[:, 0], arr[:, 1], arr[:, 2] - arr[:, 0], arr[:, 3] - arr[:, 1]
    elif source == "cxcywh":
        w, h = arr[:, 2], arr[:, 3]
        x, y = arr[:, 0] - w / 2, arr[:, 1] - h / 2
    else:
        x, y, w, h = arr.T
    if target == "xywh":
        out[:, 0], out[:, 1], out[:, 2], out[:, 3] = x, y, w, h
    elif target == "xyxy":
        out[:, 0], out[:, 1], out[:, 2], out[:, 3] = x, y, x + w, y + h
    else:
        out[:, 0], out[:, 1], out[:, 2], out[:, 3] = x + w / 2, y + h / 2, w, h
    return out


def convert_boxes(boxes: ArrayLike, *, source: BoxFormat, target: BoxFormat) -> NDArray[np.float64]:
    """Boxes from one format to another, as (N, 4) float64.

    Parameters
    ----------
    boxes : (N, 4) array
    source, target : {"xywh", "xyxy", "cxcywh"}

    See Also
    --------
    box_iou, box_nms : take any format with ``format=``.

    Examples
    --------
    >>> convert_boxes([[10, 20, 30, 40]], source="xywh", target="xyxy").tolist()
    [[10.0, 20.0, 40.0, 60.0]]
    >>> convert_boxes([[25, 40, 30, 40]], source="cxcywh", target="xywh").tolist()
    [[10.0, 20.0, 30.0, 40.0]]
    """
    target = _validate.choice("target", target, BOX_FORMATS)  # type: ignore[assignment]
    return _convert(_checked(boxes, source, "boxes"), source, target)
