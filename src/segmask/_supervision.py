"""Columns to and from supervision's ``Detections`` (the optional ``supervision`` extra).

Masks go to supervision dense (``(N, H, W)`` bool) or, where the installed
version has it, as its ``CompactMask`` (crop-scoped run lengths, built from
segmask's COCO RLEs without a full-size array). They come back as runs, and
the columns hold them as the API's RLE variant: exact whatever the rule.
Class names come back as they are (a name that is not a ``str`` is refused,
never converted).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ._columns import Columns, from_masks
from ._optional import require
from .boxes import convert_boxes
from .errors import InputError, MissingDependencyError
from .masks import Masks

__all__ = ["from_supervision", "to_supervision"]


def _sv() -> Any:
    return require("supervision", "this needs supervision: pip install 'segmask[supervision]'")


def _compact_mask_class() -> Any:
    try:
        module = require("supervision.detection.compact_mask", "supervision's CompactMask needs supervision 0.28")
    except MissingDependencyError:
        return None
    return module.CompactMask


def to_supervision(columns: Columns, masks_of: Callable[[], Masks], compact: bool | None) -> Any:
    """supervision's ``Detections`` of ``columns``, whose masks ``masks_of()`` makes (once supervision is there)."""
    sv = _sv()
    masks = masks_of()
    compact_class = _compact_mask_class()
    if compact and compact_class is None:
        raise MissingDependencyError(
            f"compact=True needs supervision's CompactMask (0.28 or later); this is {sv.__version__}"
        )
    if compact is None:
        compact = compact_class is not None
    if compact:
        # The crops: each mask's own box (inclusive corners); an empty mask gets a 1x1 crop at the origin.
        x, y, w, h = masks.boxes.T
        crops = np.stack([x, y, x + np.maximum(w, 1) - 1, y + np.maximum(h, 1) - 1], axis=1).astype(np.float64)
        mask = compact_class.from_coco_rle(masks.to_rle(), crops, image_shape=masks.image_size)
    else:
        mask = masks.to_dense()
    return sv.Detections(
        xyxy=convert_boxes(columns.cxcywh, source="cxcywh", target="xyxy"),
        mask=mask,
        confidence=np.array(columns.confidence),
        class_id=np.array(columns.class_id),
        data={"class_name": np.array(columns.class_name), "detection_id": np.array(columns.detection_id)},
    )


def from_supervision(detections: Any, image_size: tuple[int, int] | None) -> Columns:
    """The columns of supervision's ``Detections``; see :meth:`segmask.Predictions.from_supervision`."""
    sv = _sv()
    if not isinstance(detections, sv.Detections):
        raise InputError(f"detections must be supervision.Detections, got {type(detections).__name__}")
    n = len(detections)
    data = detections.data or {}
    confidence = np.ones(n) if detections.confidence is None else np.asarray(detections.confidence, np.float64)
    class_id = None if detections.class_id is None else np.asarray(detections.class_id)
    at = None
    if "class_name" in data:
        names = np.asarray(data["class_name"]).tolist()  # as they are: a name that is not a str is refused

        def at(i: int) -> str:
            return f"detections.data['class_name'][{i}]"

    elif class_id is not None:
        names = [str(c) for c in class_id.tolist()]
    else:
        names = ["object"] * n
    ids = data.get("detection_id")
    detection_id = None if ids is None else [None if d is None else str(d) for d in np.asarray(ids).tolist()]
    masks = _masks(detections.mask, n, image_size)
    boxes = np.asarray(detections.xyxy, np.float64)
    return from_masks(
        masks,
        confidence=confidence,
        class_name=names,
        class_id=class_id,
        boxes=boxes,
        format="xyxy",
        detection_id=detection_id,
        at=at,
    )


def _masks(mask: Any, n: int, image_size: tuple[int, int] | None) -> Masks:
    if mask is None:
        if image_size is None:
            raise InputError("the detections have no masks: pass image_size=(height, width)")
        return Masks.empty(image_size, n=n)
    compact_class = _compact_mask_class()
    if compact_class is not None and isinstance(mask, compact_class):
        size = tuple(int(v) for v in mask.image_shape)
        if len(mask) == 0:
            return Masks.empty(size)  # type: ignore[arg-type]
        # Each crop placed at its origin, on the runs: never a full-size array.
        parts = [
            Masks.from_dense(mask.crop(i)[None]).translate(int(x), int(y), image_size=size)  # type: ignore[arg-type]
            for i, (x, y) in enumerate(mask.offsets.tolist())
        ]
        return Masks.concatenate(parts)
    return Masks.from_dense(mask)
