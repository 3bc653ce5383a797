"""Sliced inference for large images: the windows, and one answer for the whole image from the tiles'.

A model that resizes its input (the hosted API does, often to 640 px) loses
small objects on a large image. Cut the image into overlapping windows
(:func:`tiles`), run the model on each, and :func:`merge_tiles` makes one
:class:`Predictions` of the whole image:

* each tile's predictions are filled at the tile's size (by their own rule)
  and placed at the window's offset, on the runs: never a full-size dense
  mask;
* two predictions of one class from two tiles are one object when their
  masks agree on the pixels the two windows share: cut to the windows'
  intersection, their common pixels are at least ``threshold`` of the
  smaller of the two. Neighbours that merely touch a border share no pixel
  there and stay apart; a fragment that one tile sees cut in two (the arm of
  a U whose bottom lies outside the tile) still joins the object another
  tile sees whole, which an IoU would miss (each arm is half of the whole);
* objects chain through any number of tiles; an object's mask is the exact
  union of its fragments (:meth:`Masks.merge`), its box the box of those
  pixels; its class id, detection id and confidence are those of its best
  fragment: the most confident among those seen whole (not cut by an inner
  edge of their tile), else among all. A fragment cut by a tile's edge never
  wins over the object seen whole.

Merged objects may have several parts or holes: they are held as the API's
RLE variant, exact in :meth:`Predictions.to_dict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _ragged, _validate
from ._columns import Columns, from_masks
from .boxes import convert_boxes
from .errors import InputError
from .iou import iou
from .masks import Masks, dense_limit
from .predictions import Predictions

__all__ = ["merge_tiles", "tiles"]


def tiles(image_size: tuple[int, int], *, tile: int | tuple[int, int] = 640, overlap: float = 0.2) -> NDArray[np.int64]:
    """The windows ``(x, y, w, h)`` that cover an image, row by row.

    Parameters
    ----------
    image_size : (height, width)
    tile : int or (height, width)
        The window's size; a side longer than the image is cut to it.
    overlap : float in [0, 1)
        The share of a window its neighbour covers too: the stride is
        ``tile - round(tile * overlap)``, with at least one pixel in common
        when ``overlap > 0`` (objects crossing a border are joined on the
        pixels two windows share: without any, they stay in pieces). The last
        row and column are flush with the image's edge (they may overlap more).

    Returns
    -------
    (K, 4) int64
        ``x, y, w, h`` of each window, rows top to bottom, each left to right.

    Examples
    --------
    >>> tiles((720, 960), tile=640, overlap=0.2).tolist()
    [[0, 0, 640, 640], [320, 0, 640, 640], [0, 80, 640, 640], [320, 80, 640, 640]]
    >>> tiles((100, 100), tile=640).tolist()
    [[0, 0, 100, 100]]
    """
    h, w = _validate.image_size(image_size)
    th, tw = _tile_size(tile)
    share = _validate.number(overlap, "overlap", 0.0, 1.0)
    if share >= 1:
        raise InputError(f"overlap must be below 1, got {overlap!r}")
    ny, nx = _count(h, th, share), _count(w, tw, share)
    dense_limit(32 * ny * nx, f"{ny * nx} windows of {th}x{tw}")  # before any is made
    ys = _starts(h, th, share)
    xs = _starts(w, tw, share)
    grid_y, grid_x = np.meshgrid(ys, xs, indexing="ij")
    out = np.empty((grid_y.size, 4), np.int64)
    out[:, 0], out[:, 1] = grid_x.ravel(), grid_y.ravel()
    out[:, 2], out[:, 3] = min(tw, w), min(th, h)
    return out


def _tile_size(tile: object) -> tuple[int, int]:
    if isinstance(tile, tuple | list):
        if len(tile) != 2:
            raise InputError(f"tile must be a size or (height, width), got {tile!r}")
        return _validate.integer(tile[0], "tile", 1), _validate.integer(tile[1], "tile", 1)
    side = _validate.integer(tile, "tile", 1)
    return side, side


def _stride(size: int, share: float) -> int:
    # At least a pixel in common when asked for any overlap: objects crossing a border join only there.
    common = max(round(size * share), 1) if share > 0 else 0
    return max(size - common, 1)


def _count(length: int, size: int, share: float) -> int:
    """How many windows :func:`_starts` makes along one side."""
    return 1 if length <= size else -(-(length - size) // _stride(size, share)) + 1


def _starts(length: int, size: int, share: float) -> NDArray[np.int64]:
    if length <= size:
        return np.zeros(1, np.int64)
    starts = np.arange(0, length - size, _stride(size, share), dtype=np.int64)
    return np.append(starts, length - size)


def merge_tiles(
    parts: Sequence[Predictions],
    windows: ArrayLike,
    image_size: tuple[int, int],
    *,
    threshold: float = 0.5,
) -> Predictions:
    """One :class:`Predictions` for the whole image from each window's predictions.

    Parameters
    ----------
    parts : sequence of Predictions
        Per window, the model's predictions on that window's pixels, in the
        window's coordinates (as the API answers a tile).
    windows : (K, 4) int
        ``x, y, w, h`` of each window in the image (as :func:`tiles` gives).
    image_size : (height, width)
        The whole image.
    threshold : float in (0, 1]
        Two predictions of one class from two windows are one object when,
        on the windows' shared pixels, their common pixels are at least this
        share of the smaller mask there.

    Returns
    -------
    Predictions
        One per object, in the order of their first fragment; masks held as
        RLE. A prediction without a mask (a polygon of fewer than 3 points)
        matches nothing: at an inner edge of its window it is left out (a
        sliver of an object another tile sees), elsewhere kept with its box
        and an empty mask.

    See Also
    --------
    tiles : the windows.
    RoboflowClient.infer_sliced : tiles, calls and this merge in one.

    Examples
    --------
    >>> bar = {"x": 0, "y": 0, "width": 0, "height": 0, "class": "bar", "confidence": 0.9}
    >>> def part(x0, x1):  # a bar from x0 to x1 on rows 2..4 of a 6 x 6 window
    ...     pts = [{"x": x0, "y": 2}, {"x": x1, "y": 2}, {"x": x1, "y": 4}, {"x": x0, "y": 4}]
    ...     return Predictions.from_response({"image": {"width": 6, "height": 6},
    ...                                       "predictions": [{**bar, "points": pts}]})
    >>> merged = merge_tiles([part(1, 5), part(0, 4)], [[0, 0, 6, 6], [4, 0, 6, 6]], (6, 10))
    >>> len(merged), merged.masks().area.tolist(), merged.xyxy.tolist()
    (1, [24], [[1.0, 2.0, 9.0, 5.0]])
    """
    size = _validate.image_size(image_size)
    boxes = _windows(windows, size)
    least = _validate.number(threshold, "threshold", 0.0, 1.0)
    if least <= 0:
        raise InputError("threshold must be above 0: at 0, objects that share no pixel would merge")
    if not isinstance(parts, Sequence) or len(parts) != len(boxes):
        raise InputError(f"parts must be {len(boxes)} Predictions, one per window")
    placed: list[Masks] = []
    cut, columns, with_mask, shifts = [], [], [], []
    for k, (p, (x, y, w, h)) in enumerate(zip(parts, boxes.tolist(), strict=True)):
        if not isinstance(p, Predictions):
            raise InputError(f"parts[{k}] is {type(p).__name__}, not Predictions")
        if p.image_size is not None and p.image_size != (h, w):
            raise InputError(f"parts[{k}] is of an image of {p.image_size}, but window {k} is {(h, w)}")
        # A prediction without a mask (a polygon of 1 or 2 points: a sliver) at an inner edge is a
        # piece of an object another tile sees: it cannot be joined, so it is left out.
        has = p.has_mask
        x0, y0, x1, y1 = p.xyxy.T
        keep = has | ~_at_inner_edge(x0, y0, x1, y1, (x, y, w, h), size)
        if not keep.all():
            p, has = p[keep], has[keep]
        masks = p.masks((h, w))
        placed.append(masks.translate(x, y, size))
        bx, by, bw, bh = masks.boxes.T
        cut.append((bw > 0) & _at_inner_edge(bx, by, bx + bw, by + bh, (x, y, w, h), size))
        columns.append(_attributes(p.columns))
        with_mask.append(has)
        shifts.append(np.broadcast_to(np.array([x, y, 0, 0], np.float64), (len(p), 4)))
    every = Columns.concatenate(columns)
    edge_cut = np.concatenate(cut) if cut else np.zeros(0, bool)
    starts = _ragged.offsets([len(m) for m in placed])
    groups = _UnionFind(int(starts[-1]))
    for a, b in _neighbours(boxes):
        if not len(placed[a]) or not len(placed[b]):
            continue
        sx, sy, sw, sh = _intersection(boxes[a], boxes[b]).tolist()
        share = _share_of_smaller(placed[a].translate(-sx, -sy, (sh, sw)), placed[b].translate(-sx, -sy, (sh, sw)))
        names_a, names_b = every.class_name[starts[a] : starts[a + 1]], every.class_name[starts[b] : starts[b + 1]]
        for i, j in zip(*np.nonzero((share >= least) & (names_a[:, None] == names_b[None, :])), strict=True):
            groups.join(int(starts[a] + i), int(starts[b] + j))
    all_masks = Masks.concatenate(placed) if placed else Masks.empty(size)
    return _merged(every, np.concatenate(with_mask), np.concatenate(shifts), all_masks, groups.labels(), edge_cut)


def _attributes(columns: Columns) -> Columns:
    """What the merge keeps of a tile's predictions: boxes (in the tile's coordinates), scores, classes, ids."""
    n = len(columns)
    return Columns(
        None, columns.cxcywh, columns.confidence, columns.class_name,
        columns.class_id, columns.detection_id, np.zeros((0, 2), np.float64), np.zeros(n + 1, np.int64),
        np.zeros(n, bool), (None,) * n, (None,) * n, {},
    )  # fmt: skip


def _share_of_smaller(a: Masks, b: Masks) -> NDArray[np.float64]:
    """(len(a), len(b)): common pixels over the smaller mask's pixels (0 where either is empty)."""
    ratio = iou(a, b)
    sum_ab = a.area[:, None] + b.area[None, :]
    # The IoU is |a & b| / (|a| + |b| - |a & b|): its count of common pixels, exact after rounding.
    common = np.rint(ratio * sum_ab / (1 + ratio))
    smaller = np.minimum(a.area[:, None], b.area[None, :])
    out: NDArray[np.float64] = np.divide(common, smaller, out=np.zeros(ratio.shape), where=smaller > 0)
    return out


def _windows(windows: ArrayLike, size: tuple[int, int]) -> NDArray[np.int64]:
    arr = np.asarray(windows)
    if arr.ndim != 2 or arr.shape[1] != 4 or (arr.size and arr.dtype.kind not in "iu"):
        raise InputError(f"windows must be (K, 4) integers x, y, w, h, got shape {arr.shape} of {arr.dtype}")
    out = arr.astype(np.int64)
    if not len(out):
        raise InputError("windows is empty: give at least one window (x, y, w, h)")
    h, w = size
    bad = np.flatnonzero((out[:, 0] < 0) | (out[:, 1] < 0) | (out[:, 2] < 1) | (out[:, 3] < 1)
                         | (out[:, 0] + out[:, 2] > w) | (out[:, 1] + out[:, 3] > h))  # fmt: skip
    if bad.size:
        raise InputError(f"windows[{int(bad[0])}] = {out[bad[0]].tolist()} is not inside the image of {size}")
    return out


def _at_inner_edge(
    x0: NDArray[Any],
    y0: NDArray[Any],
    x1: NDArray[Any],
    y1: NDArray[Any],
    window: tuple[int, int, int, int],
    size: tuple[int, int],
) -> NDArray[np.bool_]:
    """Extents (window coordinates, ends exclusive) within a pixel of an edge of their window that is not the image's.

    For the integer box of a mask's pixels that is touching the edge: the mask may go on beyond it.
    """
    x, y, w, h = window
    big, wide = size
    near = (
        ((x0 < 1) & (x > 0)) | ((y0 < 1) & (y > 0)) | ((x1 > w - 1) & (x + w < wide)) | ((y1 > h - 1) & (y + h < big))
    )
    return np.asarray(near, dtype=bool)


def _neighbours(boxes: NDArray[np.int64]) -> list[tuple[int, int]]:
    """Pairs of windows that share pixels, each pair once (a sweep down the rows: memory in K, not K x K)."""
    x0, y0 = boxes[:, 0], boxes[:, 1]
    x1, y1 = x0 + boxes[:, 2], y0 + boxes[:, 3]
    order = np.argsort(y0, kind="stable")
    tops = y0[order]
    tallest = int(boxes[:, 3].max())
    pairs = []
    for i in range(len(boxes)):
        lo, hi = np.searchsorted(tops, [y0[i] - tallest, y1[i]], side="left")
        j = order[lo:hi]
        j = j[(j > i) & (y1[j] > y0[i]) & (np.minimum(x1[j], x1[i]) > np.maximum(x0[j], x0[i]))]
        pairs += [(i, int(k)) for k in np.sort(j).tolist()]
    return pairs


def _intersection(a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.int64]:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    return np.array([x0, y0, x1 - x0, y1 - y0], np.int64)


class _UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def join(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def labels(self) -> NDArray[np.int64]:
        return np.array([self.find(i) for i in range(len(self.parent))], np.int64)


def _merged(
    every: Columns,
    has: NDArray[np.bool_],
    shift: NDArray[np.float64],
    masks: Masks,
    labels: NDArray[np.int64],
    edge_cut: NDArray[np.bool_],
) -> Predictions:
    """One prediction per group: the union of its masks, the attributes of its best fragment.

    ``every`` holds each fragment's attributes with its box in its tile's coordinates, ``shift`` where the tile is.
    """
    roots, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")  # groups in the order of their first fragment
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    group = rank[inverse]
    union = masks.merge(group) if len(masks) else masks
    # The best fragment: seen whole first, then the most confident, then the earliest.
    best_key = np.lexsort((np.arange(len(group)), -every.confidence, edge_cut.astype(np.int8), group))
    starts = np.searchsorted(group[best_key], np.arange(len(roots)))
    best = best_key[starts]
    if not len(labels):
        return Predictions(from_masks(masks, confidence=[], class_name=[]))
    # A group without any mask is a single prediction without a mask: its own box stays.
    chosen = every.take(best)
    own = convert_boxes(chosen.cxcywh, source="cxcywh", target="xywh") + shift[best]
    boxes = np.where(has[best][:, None], union.boxes.astype(np.float64), own)
    return Predictions(
        from_masks(
            union, confidence=chosen.confidence, class_name=chosen.class_name, class_id=chosen.class_id,
            boxes=boxes, detection_id=chosen.detection_id.tolist(),
        )
    )  # fmt: skip
