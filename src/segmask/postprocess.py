"""After the model: non-maximum suppression, and masks back to polygons with holes.

* :func:`nms` keeps the best-scoring masks greedily, suppressing any whose
  exact mask IoU with a kept one is above the threshold (of the same class
  when ``class_ids`` is given); no mask is resized. :func:`box_nms` does the
  same on COCO boxes.
* :func:`masks_to_polygons` traces each mask with ``cv2.findContours``
  (``RETR_CCOMP``: outer boundaries and their holes; islands inside holes
  are parts of their own) into shapely polygons. Rasterized again under the
  contour rule they give back the same pixels, holes included.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from ._contours import flat_rings, trace
from .errors import InputError
from .geometry import polygons_from_rings
from .masks import RLE, Masks, as_masks
from .ops import box_iou, iou

__all__ = ["box_nms", "masks_to_polygons", "nms"]


def nms(
    masks: Masks | list[RLE] | ArrayLike,
    scores: ArrayLike,
    iou_threshold: float = 0.5,
    class_ids: ArrayLike | None = None,
) -> NDArray[np.int64]:
    """Greedy non-maximum suppression on exact mask IoU.

    Parameters
    ----------
    masks : Masks, list of RLE dicts or dense (N, H, W) array
    scores : (N,) float
    iou_threshold : float in [0, 1]
        A mask is suppressed when its IoU with a kept mask is above this.
    class_ids : (N,) int, optional
        When given, only masks of the same class suppress each other.

    Returns
    -------
    (K,) int64
        Indices of the kept masks, best score first (equal scores: lower index first).

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((3, 4, 4), bool); m[0, :2] = True; m[1, :2, :3] = True; m[2, 2:] = True
    >>> nms(m, [0.9, 0.95, 0.5], iou_threshold=0.5).tolist()
    [1, 2]
    """
    ms = as_masks(masks, "masks")
    n = 0 if ms is None else len(ms)
    score, classes = _scores_and_classes(scores, class_ids, n, iou_threshold)
    if ms is None or not n:
        return np.zeros(0, np.int64)
    return _greedy(iou(ms, ms), score, classes, iou_threshold)


def box_nms(
    boxes_xywh: ArrayLike,
    scores: ArrayLike,
    iou_threshold: float = 0.5,
    class_ids: ArrayLike | None = None,
) -> NDArray[np.int64]:
    """Greedy non-maximum suppression on COCO ``[x, y, w, h]`` boxes; see :func:`nms`.

    Examples
    --------
    >>> box_nms([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 5, 5]], [0.8, 0.9, 0.7]).tolist()
    [1, 2]
    """
    b = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4) if np.size(boxes_xywh) else np.zeros((0, 4))
    score, classes = _scores_and_classes(scores, class_ids, len(b), iou_threshold)
    if not len(b):
        return np.zeros(0, np.int64)
    return _greedy(box_iou(b, b), score, classes, iou_threshold)


def _scores_and_classes(
    scores: ArrayLike, class_ids: ArrayLike | None, n: int, threshold: float
) -> tuple[NDArray[np.float64], NDArray[np.int64] | None]:
    if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not 0 <= threshold <= 1:
        raise InputError(f"iou_threshold must be a number in [0, 1], got {threshold!r}")
    s = np.asarray(scores, dtype=np.float64)
    if s.shape != (n,):
        raise InputError(f"scores must have shape ({n},), one per mask, got {s.shape}")
    if np.isnan(s).any():
        raise InputError(f"scores[{int(np.flatnonzero(np.isnan(s))[0])}] is NaN")
    if class_ids is None:
        return s, None
    c = np.asarray(class_ids)
    if c.shape != (n,) or (c.size and c.dtype.kind not in "iu"):
        raise InputError(f"class_ids must be {n} integers, got shape {c.shape} of {c.dtype}")
    return s, c.astype(np.int64)


def _greedy(
    overlap: NDArray[np.float64], scores: NDArray[np.float64], classes: NDArray[np.int64] | None, threshold: float
) -> NDArray[np.int64]:
    """Walk by decreasing score; a kept item suppresses what overlaps it above the threshold."""
    order = np.lexsort((np.arange(len(scores)), -scores))
    hits = overlap > threshold
    if classes is not None:
        hits &= classes[:, None] == classes[None, :]
    suppressed = np.zeros(len(scores), dtype=bool)
    keep = []
    for i in order.tolist():
        if not suppressed[i]:
            keep.append(i)
            suppressed |= hits[i]
    return np.array(keep, dtype=np.int64)


def masks_to_polygons(
    masks: Masks | list[RLE] | ArrayLike, simplify: float | None = None
) -> list[list[shapely.Polygon]]:
    """Trace each mask into shapely polygons with holes.

    Parameters
    ----------
    masks : Masks, list of RLE dicts or dense (N, H, W) array
    simplify : float, optional
        Tolerance in pixels for a topology-preserving simplification
        (``shapely.simplify``). Without it the polygons give back the mask's
        exact pixels under the contour rule.

    Returns
    -------
    list of list of shapely.Polygon
        Per mask its parts, each an exterior through the centres of its
        boundary pixels and one interior per hole (through the pixels around
        the hole), as ``cv2.findContours`` traces them. A part of one or two
        pixels in a row gives a polygon with no area (the points repeated),
        so that no pixel is lost.

    Examples
    --------
    >>> import numpy as np
    >>> ring = np.ones((1, 5, 5), bool); ring[0, 2, 2] = False
    >>> [p.wkt for p in masks_to_polygons(ring)[0]]
    ['POLYGON ((0 0, 0 4, 4 4, 4 0, 0 0), (1 2, 2 1, 3 2, 2 3, 1 2))']
    """
    ms = as_masks(masks, "masks")
    if ms is None:
        return []
    if simplify is not None and (not isinstance(simplify, int | float) or simplify < 0):
        raise InputError(f"simplify must be a tolerance >= 0 in pixels, got {simplify!r}")
    rings: list[NDArray[np.float64]] = []
    ring_part: list[int] = []
    part_mask: list[int] = []
    for i, traced, tree in trace(ms):
        for k in np.flatnonzero(tree[:, 3] == -1).tolist():  # outer boundaries
            part = len(part_mask)
            part_mask.append(i)
            for ring in [k, *_siblings(tree, int(tree[k, 2]))]:
                rings.append(traced[ring])
                ring_part.append(part)
    out: list[list[shapely.Polygon]] = [[] for _ in range(len(ms))]
    if not rings:
        return out
    polygons = polygons_from_rings(*flat_rings(rings), np.array(ring_part))
    if simplify:
        polygons = shapely.simplify(polygons, simplify, preserve_topology=True)
    for p, i in zip(polygons.tolist(), part_mask, strict=True):
        out[i].append(p)
    return out


def _siblings(tree: NDArray[Any], first: int) -> list[int]:
    out = []
    while first != -1:
        out.append(first)
        first = int(tree[first, 0])
    return out
