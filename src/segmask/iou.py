"""Overlap: exact mask IoU on the runs, and COCO box IoU, both pycocotools' values to the bit.

``iou[i, j] = |a_i & b_j| / |a_i | b_j|``, or ``|a_i & b_j| / |a_i|`` when
``b_j`` is a crowd region; 0 when the two do not touch. Pairs whose boxes do
not meet are skipped; the others are counted exactly by one sweep over the
foreground runs of the columns their boxes share, or, when both masks have
many runs a column (speckle, thin structures), by a popcount of their bit
crops over those columns (:mod:`segmask._kernel.overlap`).
Memory is the answer's: no pair list, bit crops no larger than the runs they
replace, and of a sparse answer only the pages that hold a nonzero value are
committed (on Linux; elsewhere the operating system decides).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _kernel, _validate
from .boxes import BoxFormat, as_xywh
from .errors import MaskError
from .masks import RLE, Masks, as_masks, dense_limit

__all__ = ["box_iou", "iou"]


def iou(
    a: Masks | Sequence[RLE] | ArrayLike,
    b: Masks | Sequence[RLE] | ArrayLike,
    *,
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
        Equal to ``pycocotools.mask.iou(a, b, iscrowd)`` on the same masks,
        except for runs given with empty runs inside (uncompressed counts
        such as ``[5, 0, 5, 10]``), where pycocotools' sweep can stop early
        and segmask still counts every pixel. Its size is bounded by
        :data:`segmask.limits.MAX_DENSE_BYTES`.

    See Also
    --------
    box_iou : the same for boxes.
    nms : suppression on these values.

    Examples
    --------
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
    dense_limit(8 * na * nb, f"an IoU matrix of {na} x {nb}")
    out = _kernel.overlap.zeros_sparse(na, nb)
    if ma is None or mb is None or not na or not nb:
        return out
    if ma.image_size != mb.image_size:
        raise MaskError(f"a has image size {ma.image_size} but b has {mb.image_size}")
    same = mb is ma and not crowd.any()
    ra, rb = ma.runs, mb.runs
    _kernel.overlap.mask_iou_matrix(ra.counts, ra.offsets, ma.boxes, ma.area, rb.counts, rb.offsets, mb.boxes,
                                    mb.area, crowd, same, ma.image_size[0], out)  # fmt: skip
    return out


def box_iou(
    a: ArrayLike, b: ArrayLike, *, format: BoxFormat = "xywh", iscrowd: ArrayLike | None = None
) -> NDArray[np.float64]:
    """IoU of boxes, bit-identical to pycocotools' ``iou`` on COCO boxes.

    Parameters
    ----------
    a : (N, 4) float
    b : (M, 4) float
    format : {"xywh", "xyxy", "cxcywh"}
        How both are written (see :mod:`segmask.boxes`); pycocotools' values
        are for ``"xywh"``, others are converted first.
    iscrowd : (M,) bool, optional
        Where true, the score is ``|a_i & b_j| / |a_i|``.

    Returns
    -------
    (N, M) float64
        NaN where two boxes overlap but their areas round to 0 (widths near
        1e-300), as pycocotools gives. Computed in place: the answer is the
        only allocation, bounded by :data:`segmask.limits.MAX_DENSE_BYTES`.

    See Also
    --------
    iou : the same for masks.
    box_nms : suppression on these values.

    Examples
    --------
    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 2, 2], [5, 5, 1, 1]])
    array([[0.33333333, 0.        ]])
    >>> box_iou([[0, 0, 2, 2]], [[1, 0, 3, 2]], format="xyxy")
    array([[0.33333333]])
    """
    da, db = as_xywh(a, format, "a"), as_xywh(b, format, "b")
    crowd = _crowd(iscrowd, len(db))
    dense_limit(8 * len(da) * len(db), f"a box IoU matrix of {len(da)} x {len(db)}")
    out = np.empty((len(da), len(db)), dtype=np.float64)
    _kernel.overlap.box_iou_matrix(da, db, crowd, out)
    return out


def _crowd(iscrowd: ArrayLike | None, n: int) -> NDArray[np.uint8]:
    """``(n,)`` 0/1 crowd flags of the second set (all 0 when not given)."""
    return _validate.flags(iscrowd, n, "iscrowd") if iscrowd is not None else np.zeros(n, np.uint8)
