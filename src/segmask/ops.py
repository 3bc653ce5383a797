"""Overlap of instances: exact mask IoU on crops, and COCO box IoU.

Both follow pycocotools' ``iou`` to the bit: ``iou[i, j] = |a_i & b_j| /
|a_i | b_j|``, or ``|a_i & b_j| / |a_i|`` when ``b_j`` is a crowd region;
0 when the two do not touch. Pairs whose boxes do not overlap are skipped;
the rest are counted exactly on the overlap of their crops.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import InputError, MaskError
from .masks import RLE, Masks, as_masks

__all__ = ["box_iou", "iou"]


def iou(
    a: Masks | Sequence[RLE] | ArrayLike,
    b: Masks | Sequence[RLE] | ArrayLike,
    iscrowd: ArrayLike | None = None,
) -> NDArray[np.float64]:
    """Exact IoU of every mask of ``a`` with every mask of ``b``.

    Parameters
    ----------
    a, b : Masks, list of RLE dicts, or dense (N, H, W) arrays
        Both of the same image size.
    iscrowd : (len(b),) bool, optional
        Where true, ``b[j]`` is a crowd region and the score is
        ``|a_i & b_j| / |a_i|`` (pycocotools' convention).

    Returns
    -------
    (len(a), len(b)) float64
        Equal to ``pycocotools.mask.iou(a, b, iscrowd)`` on the same masks.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((2, 4, 4), bool); m[0, :2] = True; m[1, :3] = True
    >>> iou(m, m)
    array([[1.        , 0.66666667],
           [0.66666667, 1.        ]])
    >>> iou(m[:1], m[1:], iscrowd=[True])
    array([[1.]])
    """
    ma = as_masks(a, "a")
    mb = ma if b is a else as_masks(b, "b")  # iou(x, x): read x once
    na = 0 if ma is None else len(ma)
    nb = 0 if mb is None else len(mb)
    crowd = _crowd(iscrowd, nb)
    out = np.zeros((na, nb), dtype=np.float64)
    if ma is None or mb is None or not na or not nb:
        return out
    if ma.image_size != mb.image_size:
        raise MaskError(f"a has image size {ma.image_size} but b has {mb.image_size}")
    # Crops first: built from runs, they bring their boxes in the same pass.
    ma._crops()
    mb._crops()
    ba, bb = ma._boxes(), mb._boxes()
    # Overlap rectangle of every pair; only pairs with a positive one are counted.
    x0 = np.maximum(ba[:, None, 0], bb[None, :, 0])
    y0 = np.maximum(ba[:, None, 1], bb[None, :, 1])
    x1 = np.minimum(ba[:, None, 0] + ba[:, None, 2], bb[None, :, 0] + bb[None, :, 2])
    y1 = np.minimum(ba[:, None, 1] + ba[:, None, 3], bb[None, :, 1] + bb[None, :, 3])
    ii, jj = np.nonzero((x1 > x0) & (y1 > y0))
    if not ii.size:
        return out
    inter = _intersections(ma, mb, ii, jj, x0[ii, jj], y0[ii, jj], x1[ii, jj], y1[ii, jj])
    area_a = ma.area[ii].astype(np.float64)
    union = np.where(crowd[jj], area_a, area_a + mb.area[jj] - inter)
    # pycocotools: a pair that does not intersect scores 0 (its union is taken as 1).
    union = np.where(inter > 0, union, 1.0)
    out[ii, jj] = inter / union
    return out


def _intersections(
    ma: Masks,
    mb: Masks,
    ii: NDArray[np.intp],
    jj: NDArray[np.intp],
    x0: NDArray[np.int64],
    y0: NDArray[np.int64],
    x1: NDArray[np.int64],
    y1: NDArray[np.int64],
) -> NDArray[np.float64]:
    """Pixels in both masks for each candidate pair, on the overlap of their crops."""
    ca, cb = ma._crop_views(), mb._crop_views()
    ax, ay = ma._boxes()[ii, 0], ma._boxes()[ii, 1]
    bx, by = mb._boxes()[jj, 0], mb._boxes()[jj, 1]
    rows = zip(
        ii.tolist(), jj.tolist(),
        (y0 - ay).tolist(), (y1 - ay).tolist(), (x0 - ax).tolist(), (x1 - ax).tolist(),
        (y0 - by).tolist(), (y1 - by).tolist(), (x0 - bx).tolist(), (x1 - bx).tolist(),
        strict=True,
    )  # fmt: skip
    count = np.count_nonzero
    return np.fromiter(
        (count(ca[i][r0:r1, c0:c1] & cb[j][s0:s1, d0:d1]) for i, j, r0, r1, c0, c1, s0, s1, d0, d1 in rows),
        dtype=np.float64,
        count=len(ii),
    )


def _crowd(iscrowd: ArrayLike | None, n: int) -> NDArray[np.bool_]:
    if iscrowd is None:
        return np.zeros(n, dtype=bool)
    c = np.asarray(iscrowd)
    if c.shape != (n,) or (c.size and c.dtype.kind not in "biu"):
        raise InputError(f"iscrowd must be {n} bools or 0/1 ints (one per mask of b), got shape {c.shape}")
    return c.astype(bool)


def box_iou(a: ArrayLike, b: ArrayLike, iscrowd: ArrayLike | None = None) -> NDArray[np.float64]:
    """IoU of COCO ``[x, y, w, h]`` boxes, bit-identical to pycocotools' ``bbIou``.

    Parameters
    ----------
    a : (N, 4) float
    b : (M, 4) float
    iscrowd : (M,) bool, optional
        Where true, the score is ``|a_i & b_j| / |a_i|``.

    Returns
    -------
    (N, M) float64
        NaN where two boxes overlap but their areas round to 0 (widths near
        1e-300), as pycocotools gives.

    Examples
    --------
    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 2, 2], [5, 5, 1, 1]])
    array([[0.33333333, 0.        ]])
    """
    da, db = _boxes(a, "a"), _boxes(b, "b")
    crowd = _crowd(iscrowd, len(db))
    area_a = (da[:, 2] * da[:, 3])[:, None]
    area_b = (db[:, 2] * db[:, 3])[None, :]
    w = np.minimum(da[:, None, 2] + da[:, None, 0], db[None, :, 2] + db[None, :, 0]) - np.maximum(
        da[:, None, 0], db[None, :, 0]
    )
    h = np.minimum(da[:, None, 3] + da[:, None, 1], db[None, :, 3] + db[None, :, 1]) - np.maximum(
        da[:, None, 1], db[None, :, 1]
    )
    inter = w * h
    union = np.where(crowd[None, :], area_a, area_a + area_b - inter)
    hit = (w > 0) & (h > 0)
    # Boxes that overlap by a width or height so small that the areas round
    # to 0 give 0 / 0 = NaN, as in pycocotools: their IoU is undefined.
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(hit, inter / np.where(hit, union, 1.0), 0.0)


def _boxes(value: Any, name: str) -> NDArray[np.float64]:
    arr = np.asarray(value, dtype=np.float64)
    if arr.size == 0:
        return arr.reshape(0, 4)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise InputError(f"{name} must be (N, 4) COCO [x, y, w, h] boxes, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        i = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise InputError(f"{name}[{i}] = {arr[i].tolist()} is not finite")
    neg = np.flatnonzero((arr[:, 2] < 0) | (arr[:, 3] < 0))
    if neg.size:
        i = int(neg[0])
        raise InputError(f"{name}[{i}] = {arr[i].tolist()} has a negative width or height")
    return arr
