"""``Masks``: N binary masks of one image, held as runs, never at image size.

A mask set is the run lengths of its masks, column-major over the image as
COCO counts them (``uint32``, all masks in one array with offsets), and the
area of each. Boxes and COCO strings are derived once, when first asked
for; pixels only on request, one mask at a time (:meth:`Masks.crop`) or all
at once (:meth:`Masks.to_dense`). Memory grows with the masks' outlines, not
with the image: 100 blobs of 200x200 px on a 1920x1080 image take about
0.3 MB as runs, 4 MB as crops and 207 MB as a dense ``(N, H, W)`` stack.

Every operation works on the runs (:mod:`segmask._kernel.runs`): area and boxes
in one pass, set operations as one sweep per pair or group, IoU on the
foreground runs of the boxes' shared columns (on bit crops of those columns
for two masks with many runs a column).

A ``Masks`` never changes after it is made; methods that "change" it return
a new one. What it derives lazily (boxes, strings) depends on the runs
alone and is stored with one assignment: two threads that ask at once may
both compute it and get equal values, so one ``Masks`` may be shared by
threads without a lock.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _kernel, _ragged, _validate, limits
from .errors import InputError, MaskError
from .rle import parse_rles

__all__ = ["RLE", "Masks", "Runs", "as_masks", "decode", "dense_limit", "encode", "from_kernel"]

#: A COCO RLE as segmask writes it: ``{"size": [h, w], "counts": str}``.
RLE = dict[str, Any]


class Runs(NamedTuple):
    """The run lengths of N masks: mask ``i`` is ``counts[offsets[i]:offsets[i + 1]]``.

    ``counts`` (C,) uint32, column-major, starting with a background run
    (maybe 0), each mask's summing to ``height * width``; ``offsets`` (N + 1,)
    int64. Both read-only.

    Examples
    --------
    >>> Masks.from_dense(np.eye(3, dtype=bool)[None]).runs.counts.tolist()
    [0, 1, 3, 1, 3, 1]
    """

    counts: NDArray[np.uint32]
    offsets: NDArray[np.int64]


def _readonly(a: NDArray[Any]) -> NDArray[Any]:
    a.setflags(write=False)
    return a


def dense_limit(n_bytes: int, what: str) -> None:
    """Refuse, before allocating, a dense array over :data:`segmask.limits.MAX_DENSE_BYTES`."""
    if n_bytes > limits.MAX_DENSE_BYTES:
        raise InputError(
            f"{what} would take {n_bytes} bytes, over segmask.limits.MAX_DENSE_BYTES = {limits.MAX_DENSE_BYTES}; "
            "work on fewer masks at a time (or raise the limit)"
        )


class Masks:
    """N binary masks of one ``(height, width)`` image.

    Build one with :func:`segmask.rasterize`, :meth:`from_dense`,
    :meth:`from_rle`, :meth:`from_labels` or :meth:`from_runs`.

    Attributes
    ----------
    image_size : (height, width)
    area : (N,) int64
        Pixels in each mask.
    boxes : (N, 4) int64
        COCO ``[x, y, width, height]`` of each mask's pixels (zeros when empty).
    runs : Runs
        The run lengths (see :class:`Runs`).

    See Also
    --------
    rasterize : polygons to Masks.
    iou : the overlap of two mask sets.

    Examples
    --------
    >>> dense = np.zeros((2, 4, 5), dtype=bool)
    >>> dense[0, 1:3, 1:4] = True
    >>> dense[1, 0, 4] = True
    >>> masks = Masks.from_dense(dense)
    >>> len(masks), masks.image_size, masks.area.tolist()
    (2, (4, 5), [6, 1])
    >>> masks.boxes.tolist()
    [[1, 1, 3, 2], [4, 0, 1, 1]]
    >>> masks.to_rle()[0]
    {'size': [4, 5], 'counts': '5220003'}
    """

    __slots__ = ("_area", "_boxes", "_counts", "_offsets", "_size", "_strings")
    _size: tuple[int, int]
    _counts: NDArray[np.uint32]
    _offsets: NDArray[np.int64]
    _area: NDArray[np.int64]
    _boxes: NDArray[np.int64] | None  # derived once, when first asked for
    _strings: list[str] | None  # likewise

    def __init__(self) -> None:
        raise TypeError("make Masks with Masks.from_dense, from_rle, from_runs, from_labels or segmask.rasterize")

    @classmethod
    def _of(
        cls,
        size: tuple[int, int],
        counts: NDArray[np.uint32],
        offsets: NDArray[np.int64],
        area: NDArray[np.int64] | None = None,
        boxes: NDArray[np.int64] | None = None,
        strings: list[str] | None = None,
    ) -> Masks:
        """From runs known to be valid (made here or checked); area computed when not given."""
        self = object.__new__(cls)
        self._size = size
        if area is None:
            area = _kernel.runs.pixel_counts(counts, offsets)
        if boxes is None:
            _kernel.buffers.freeze(counts, offsets, area)
        else:
            _kernel.buffers.freeze(counts, offsets, area, boxes)
        self._counts = counts
        self._offsets = offsets
        self._area = area
        self._boxes = boxes
        self._strings = strings
        return self

    # --- constructors -------------------------------------------------------------

    @classmethod
    def empty(cls, image_size: tuple[int, int], *, n: int = 0) -> Masks:
        """``n`` empty masks (area 0) of an image of ``image_size``."""
        h, w = _validate.image_size(image_size)
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
            raise InputError(f"n must be a count >= 0, got {n!r}")
        counts = np.full(int(n), h * w, dtype=np.uint32)
        offsets = np.arange(int(n) + 1, dtype=np.int64)
        return cls._of((h, w), counts, offsets, np.zeros(int(n), np.int64), np.zeros((int(n), 4), np.int64))

    @classmethod
    def from_runs(cls, counts: ArrayLike, offsets: ArrayLike, image_size: tuple[int, int]) -> Masks:
        """Masks from run lengths (see :class:`Runs`), checked: non-negative, each mask summing to ``h * w``.

        Examples
        --------
        >>> Masks.from_runs([1, 2, 3], [0, 3], (2, 3)).to_dense()[0].astype(int)
        array([[0, 1, 0],
               [1, 0, 0]])
        """
        h, w = _validate.image_size(image_size)
        c = np.asarray(counts)
        o = np.asarray(offsets)
        if c.ndim != 1 or (c.size and c.dtype.kind not in "iu"):
            raise MaskError(f"counts must be a flat array of integers, got shape {c.shape} of {c.dtype}")
        if o.ndim != 1 or o.size < 1 or o.dtype.kind not in "iu" or o[0] != 0 or o[-1] != c.size:
            raise MaskError("offsets must be (N + 1,) integers from 0 to len(counts)")
        if np.any(np.diff(o) < 1):
            raise MaskError("offsets must grow: every mask has at least one run")
        if c.size and (c.min() < 0 or c.max() > 2**32 - 1):
            raise MaskError("counts must be run lengths in [0, 2**32)")
        o = o.astype(np.int64)
        sums = np.add.reduceat(c.astype(np.int64), o[:-1]) if c.size else np.zeros(0, np.int64)
        bad = np.flatnonzero(sums != h * w)
        if bad.size:
            i = int(bad[0])
            raise MaskError(f"mask {i}'s runs sum to {int(sums[i])}, but a {h}x{w} image needs {h * w}")
        return cls._of((h, w), c.astype(np.uint32), o.copy())

    @classmethod
    def from_dense(cls, array: ArrayLike) -> Masks:
        """Masks from a dense ``(H, W)`` or ``(N, H, W)`` array of 0/1 or bool.

        Any dtype and memory order. Values other than 0 and 1 (and NaN) are an
        error: threshold probabilities first (``probs > 0.5``).
        """
        a = np.asarray(array)
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3 or a.shape[1] < 1 or a.shape[2] < 1:
            raise MaskError(f"masks must have shape (H, W) or (N, H, W), got {np.shape(array)}")
        size = _validate.image_size(a.shape[1:], "the masks' (H, W)")
        if a.dtype != bool:
            if a.dtype.kind not in "biuf":
                raise MaskError(f"masks must hold numbers or bools, got dtype {a.dtype}")
            bad = (a != 0) & (a != 1)
            if bad.any():
                i, y, x = (int(v) for v in np.argwhere(bad)[0])
                raise MaskError(
                    f"mask {i} has value {a[i, y, x].item()!r} at row {y}, column {x}; masks must be 0/1 "
                    "or bool (threshold probabilities first, e.g. probs > 0.5)"
                )
            a = a != 0
        rows_contiguous = a.strides[2] == 1
        columns_contiguous = a.strides[1] == 1 and a.strides[2] == a.shape[1]
        if not (rows_contiguous or columns_contiguous):
            a = np.ascontiguousarray(a)
        return cls._of(size, *_kernel.runs.from_byte_masks(a.view(np.uint8)))

    @classmethod
    def from_labels(cls, labels: ArrayLike) -> tuple[Masks, NDArray[np.int64]]:
        """Masks from an instance-id image (0 is background), and the id of each mask.

        Parameters
        ----------
        labels : (H, W) integer array
            Pixel value ``k > 0`` belongs to instance ``k``.

        Returns
        -------
        masks : Masks
            One mask per id present, in increasing id order.
        ids : (N,) int64

        Examples
        --------
        >>> masks, ids = Masks.from_labels(np.array([[0, 2, 2], [5, 5, 0]]))
        >>> ids.tolist(), masks.area.tolist()
        ([2, 5], [2, 2])
        """
        a = np.asarray(labels)
        if a.ndim != 2 or a.dtype.kind not in "iu" or 0 in a.shape:
            raise MaskError(f"labels must be a non-empty (H, W) integer image, got shape {a.shape} of {a.dtype}")
        if a.dtype.kind == "i" and (a < 0).any():
            raise MaskError("labels must not be negative (0 is background)")
        h, w = _validate.image_size(a.shape, "the labels' (H, W)")
        flat = a.ravel(order="F")
        # Runs of equal value, column-major: where the value changes.
        starts = np.flatnonzero(np.concatenate([[True], flat[1:] != flat[:-1]]))
        values = flat[starts].astype(np.int64)
        ends = np.append(starts[1:], flat.size)
        fg = values > 0
        ids, owner = np.unique(values[fg], return_inverse=True)
        order = np.lexsort((starts[fg], owner))
        # Each run of an id starts and ends a run of its mask: two toggles, sorted per mask.
        toggles = np.stack([starts[fg][order], ends[fg][order]], axis=1).ravel()
        offsets = _ragged.offsets(2 * np.bincount(owner, minlength=len(ids)))
        made = _kernel.runs.from_toggles(toggles.astype(np.int64), offsets, h * w)
        return cls._of((h, w), *made), ids.astype(np.int64)

    @classmethod
    def from_rle(cls, rles: Sequence[RLE], image_size: tuple[int, int] | None = None) -> Masks:
        """Masks from COCO RLE dicts (``str``/``bytes`` or list counts), all checked.

        ``image_size`` is needed only for an empty list; otherwise it must
        match the RLEs' ``size``.

        Examples
        --------
        >>> Masks.from_rle([{"size": [2, 3], "counts": "121O0"}]).area.tolist()
        [3]
        """
        size, counts, offsets, area, strings = parse_rles(rles)
        if size is None:
            if image_size is None:
                raise MaskError("an empty list of RLEs has no image size: pass image_size=(h, w)")
            return cls.empty(image_size)
        if image_size is not None and _validate.image_size(image_size) != size:
            raise MaskError(f"the RLEs have size {list(size)} but image_size is {tuple(image_size)}")
        return cls._of(size, counts, offsets, area, strings=strings)

    # --- what a mask set is -------------------------------------------------------

    @property
    def image_size(self) -> tuple[int, int]:
        """``(height, width)`` of the image."""
        return self._size

    def __len__(self) -> int:
        return len(self._area)

    def __repr__(self) -> str:
        return f"Masks(n={len(self)}, image_size={self._size}, pixels={int(self._area.sum())})"

    @property
    def area(self) -> NDArray[np.int64]:
        """(N,) int64: pixels in each mask (read-only)."""
        return self._area

    @property
    def boxes(self) -> NDArray[np.int64]:
        """(N, 4) int64: COCO ``[x, y, width, height]`` of each mask's pixels, zeros when empty (read-only)."""
        boxes = self._boxes
        if boxes is None:
            boxes = self._boxes = _readonly(_kernel.runs.bounding_boxes(self._counts, self._offsets, self._size[0]))
        return boxes

    @property
    def runs(self) -> Runs:
        """The run lengths of every mask (read-only arrays)."""
        return Runs(self._counts, self._offsets)

    @property
    def nbytes(self) -> int:
        """Bytes held by this mask set's arrays (and strings, once made)."""
        total = self._counts.nbytes + self._offsets.nbytes + self._area.nbytes
        total += self._boxes.nbytes if self._boxes is not None else 0
        total += sum(len(s) for s in self._strings) if self._strings is not None else 0
        return total

    def crop(self, i: int) -> tuple[NDArray[np.bool_], tuple[int, int]]:
        """Mask ``i`` as ``(pixels, (x, y))``: its box's ``(h, w)`` bool pixels and their top-left corner.

        Examples
        --------
        >>> m = Masks.from_dense(np.eye(4, dtype=bool)[None, :, ::-1])
        >>> pixels, corner = m.crop(0)
        >>> pixels.astype(int), corner
        (array([[0, 0, 0, 1],
               [0, 0, 1, 0],
               [0, 1, 0, 0],
               [1, 0, 0, 0]]), (0, 0))
        """
        n = len(self)
        if isinstance(i, bool) or not isinstance(i, int | np.integer):
            raise TypeError(f"mask index must be an int, got {type(i).__name__}")
        if not -n <= i < n:
            raise IndexError(f"mask index {i} is out of range for {n} masks")
        i = int(i) % n
        x, y, w, h = (int(v) for v in self.boxes[i])
        out = np.zeros((h, w), np.uint8)
        _kernel.runs.paint_crop(
            self._counts, int(self._offsets[i]), int(self._offsets[i + 1]), self._size[0], x, y, out
        )
        return out.view(bool), (x, y)

    def iter_crops(self) -> Iterator[tuple[NDArray[np.bool_], tuple[int, int]]]:
        """Each mask's :meth:`crop`, in order, made one at a time (an empty mask gives a (0, 0) crop)."""
        for i in range(len(self)):
            yield self.crop(i)

    def to_dense(self) -> NDArray[np.bool_]:
        """(N, H, W) bool: every mask at full image size; N * H * W bytes, within ``limits.MAX_DENSE_BYTES``."""
        h, w = self._size
        dense_limit(len(self) * h * w, f"to_dense() of {len(self)} masks of {h}x{w}")
        out = np.zeros((len(self), h, w), np.uint8)
        for i in range(len(self)):
            _kernel.runs.paint_crop(self._counts, int(self._offsets[i]), int(self._offsets[i + 1]), h, 0, 0, out[i])
        return out.view(bool)

    def to_rle(self) -> list[RLE]:
        """COCO RLEs, byte-identical to pycocotools' ``encode`` but with ``str`` counts."""
        strings = self._strings
        if strings is None:
            strings = self._strings = _kernel.strings.encode_counts(self._counts, self._offsets)
        return _kernel.strings.rle_dicts(strings, self._size[0], self._size[1])

    def to_labels(self) -> tuple[NDArray[np.integer], int]:
        """An instance-id image: mask ``i`` has value ``i + 1`` (uint8, uint16 past 255 masks).

        Where masks overlap, the later one wins; the second value counts the
        pixels where an earlier mask was overwritten.
        """
        h, w = self._size
        if len(self) > 65535:
            raise MaskError(f"{len(self)} masks do not fit a 16-bit instance-id image (65535 at most)")
        dtype = np.uint8 if len(self) <= 255 else np.uint16
        dense_limit(h * w * np.dtype(dtype).itemsize, f"an instance-id image of {h}x{w}")
        out = np.zeros((h, w), dtype=dtype)
        overwritten = 0
        for i, (pixels, (x, y)) in enumerate(self.iter_crops()):
            region = out[y : y + pixels.shape[0], x : x + pixels.shape[1]]
            overwritten += int(np.count_nonzero(region[pixels]))
            region[pixels] = i + 1
        return out, overwritten

    def __getitem__(self, idx: int | slice | ArrayLike) -> Masks:
        """Select masks with an int, a slice, a bool mask or an int array; gives ``Masks``."""
        sel = select(idx, len(self))
        counts, offsets = _ragged.take(self._counts, self._offsets, sel)
        boxes = self._boxes[sel] if self._boxes is not None else None
        strings = [self._strings[i] for i in sel.tolist()] if self._strings is not None else None
        return Masks._of(self._size, counts, offsets, self._area[sel], boxes, strings)

    def translate(self, dx: int, dy: int, image_size: tuple[int, int] | None = None) -> Masks:
        """The masks moved by ``(dx, dy)`` pixels onto an image of ``image_size`` (default: the same).

        Pixels that land outside the new image are cut off. Placing a tile's
        masks in the whole image is ``tile_masks.translate(x0, y0,
        image_size=(H, W))``; cutting a window out is ``translate(-x0, -y0,
        image_size=(h, w))``. Works on the runs, never at full size.

        Examples
        --------
        >>> m = Masks.from_dense(np.ones((1, 2, 2), bool))
        >>> m.translate(1, 2, image_size=(4, 3)).to_dense()[0].astype(int)
        array([[0, 0, 0],
               [0, 0, 0],
               [0, 1, 1],
               [0, 1, 1]])
        """
        h, w = self._size
        size = self._size if image_size is None else _validate.image_size(image_size)
        big, wide = size
        far = int(limits.MAX_COORD)
        dx = _validate.integer(dx, "dx", -far, far)
        dy = _validate.integer(dy, "dy", -far, far)
        return Masks._of(size, *_kernel.runs.move(self._counts, self._offsets, h, w, dx, dy, big, wide))

    # --- set operations, on the runs --------------------------------------------------

    def union(self, other: Masks) -> Masks:
        """``self[i] | other[i]`` for each i: two sets of the same length and image size."""
        return self._pairwise(other, _kernel.runs.UNION, "union")

    def intersection(self, other: Masks) -> Masks:
        """``self[i] & other[i]`` for each i."""
        return self._pairwise(other, _kernel.runs.INTERSECTION, "intersection")

    def difference(self, other: Masks) -> Masks:
        """``self[i] & ~other[i]`` for each i."""
        return self._pairwise(other, _kernel.runs.DIFFERENCE, "difference")

    def _pairwise(self, other: Masks, op: int, name: str) -> Masks:
        if not isinstance(other, Masks):
            raise MaskError(f"{name} needs another Masks, got {type(other).__name__}")
        if other.image_size != self.image_size or len(other) != len(self):
            raise MaskError(
                f"{name} pairs masks one to one: got {len(self)} masks of {self.image_size} "
                f"and {len(other)} of {other.image_size}"
            )
        return Masks._of(
            self._size, *_kernel.runs.pairwise_op(self._counts, self._offsets, other._counts, other._offsets, op)
        )

    def merge(self, groups: ArrayLike | None = None) -> Masks:
        """Union of masks: of all of them (one mask), or one mask per group.

        Parameters
        ----------
        groups : (N,) int labels, or a sequence of index lists, optional
            Labels: one mask per distinct label, in increasing label order.
            Index lists (``[[0, 2], [1]]``): one mask per list, in order; an
            empty list gives an empty mask.

        Examples
        --------
        >>> m = Masks.from_dense(np.eye(3, dtype=bool)[:, None, :].repeat(3, axis=1))
        >>> m.merge().area.tolist(), m.merge([0, 1, 0]).area.tolist(), m.merge([[2], [0, 1]]).area.tolist()
        ([9], [6, 3], [3, 6])
        """
        n = len(self)
        if groups is None:
            members = np.arange(n, dtype=np.int64)
            group_offsets = np.array([0, n], np.int64)
        elif _is_index_lists(groups):
            lists = [select(np.asarray(g, dtype=np.int64).reshape(-1), n) for g in groups]  # type: ignore[union-attr]
            members = np.concatenate(lists) if lists else np.zeros(0, np.int64)
            group_offsets = _ragged.offsets([len(x) for x in lists])
        else:
            labels = _validate.integers(groups, n, "groups")
            _, inverse = np.unique(labels, return_inverse=True)
            members = np.argsort(inverse, kind="stable").astype(np.int64)
            group_offsets = _ragged.offsets(np.bincount(inverse))
        h, w = self._size
        return Masks._of(
            self._size, *_kernel.runs.union_groups(self._counts, self._offsets, members, group_offsets, h * w)
        )

    @staticmethod
    def concatenate(parts: Sequence[Masks]) -> Masks:
        """One mask set from several of the same image size, in order."""
        if not parts:
            raise MaskError("concatenate needs at least one Masks")
        size = parts[0].image_size
        for i, p in enumerate(parts):
            if not isinstance(p, Masks):
                raise MaskError(f"parts[{i}] must be Masks, got {type(p).__name__}")
            if p.image_size != size:
                raise MaskError(f"parts[{i}] has image size {p.image_size} but parts[0] has {size}")
        lengths = np.concatenate([np.diff(p._offsets) for p in parts])
        offsets = _ragged.offsets(lengths)
        counts = np.concatenate([p._counts for p in parts])
        area = np.concatenate([p._area for p in parts])
        boxes = np.concatenate([p._boxes for p in parts]) if all(p._boxes is not None for p in parts) else None
        strings = (
            [s for p in parts for s in p._strings] if all(p._strings is not None for p in parts) else None  # type: ignore[union-attr]
        )
        return Masks._of(size, counts, offsets, area, boxes, strings)


def from_kernel(
    size: tuple[int, int],
    counts: NDArray[np.uint32],
    offsets: NDArray[np.int64],
    area: NDArray[np.int64] | None = None,
) -> Masks:
    """Masks from runs that segmask's kernel made (valid by construction: no checks).

    For runs from anywhere else use :meth:`Masks.from_runs`, which checks them.
    """
    return Masks._of(size, counts, offsets, area)


def _is_index_lists(groups: Any) -> bool:
    return isinstance(groups, list | tuple) and len(groups) > 0 and all(isinstance(g, list | tuple | np.ndarray)
                                                                        for g in groups)  # fmt: skip


def select(idx: Any, n: int) -> NDArray[np.int64]:
    """An int, a slice, a bool mask or an int array -> the selected indices (IndexError when out of range)."""
    if isinstance(idx, slice):
        return np.arange(n, dtype=np.int64)[idx]
    if isinstance(idx, int | np.integer) and not isinstance(idx, bool | np.bool_):
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for {n} items")
        return np.array([int(idx) % n], dtype=np.int64)
    arr = np.asarray(idx)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise IndexError(f"a boolean index must have shape ({n},), got {arr.shape}")
        return np.flatnonzero(arr)
    if arr.ndim == 1 and (arr.dtype.kind in "iu" or arr.size == 0):
        arr = arr.astype(np.int64)
        if arr.size and (arr.max() >= n or arr.min() < -n):
            raise IndexError(f"index {int(arr[(arr >= n) | (arr < -n)][0])} is out of range for {n} items")
        out: NDArray[np.int64] = arr % n if n else arr
        return out
    raise IndexError(f"index must be an int, a slice, a bool array or an int array, got {idx!r}")


def as_masks(value: Masks | Sequence[RLE] | ArrayLike, name: str) -> Masks | None:
    """Coerce what ``iou`` and ``nms`` accept into Masks; None for an empty list."""
    if isinstance(value, Masks):
        return value
    if isinstance(value, np.ndarray):
        return Masks.from_dense(value)
    if isinstance(value, list | tuple):
        if not value:
            return None
        if isinstance(value[0], dict):
            return Masks.from_rle(value)
        return Masks.from_dense(np.asarray(value))
    raise MaskError(f"{name} must be Masks, a list of RLE dicts or a dense array, got {type(value).__name__}")


def encode(array: ArrayLike) -> list[RLE]:
    """Dense mask(s) -> COCO RLE dicts with ``str`` counts.

    Parameters
    ----------
    array : (H, W) or (N, H, W) array of bool or 0/1, any dtype, C or Fortran order

    Returns
    -------
    list of dict
        ``{"size": [h, w], "counts": str}``, one per mask; the counts are
        byte-identical to ``pycocotools.mask.encode`` (which wants Fortran-order
        uint8 and gives ``bytes``).

    See Also
    --------
    decode : the other way.

    Examples
    --------
    >>> encode(np.eye(3, dtype=bool))
    [{'size': [3, 3], 'counts': '013000'}]
    """
    return Masks.from_dense(array).to_rle()


def decode(rles: Sequence[RLE], image_size: tuple[int, int] | None = None) -> NDArray[np.bool_]:
    """COCO RLE dicts -> (N, H, W) bool, checking every RLE first.

    ``str``, ``bytes`` and list (uncompressed) counts are accepted. A counts
    string with a bad character, runs that do not sum to ``h * w`` and RLEs
    of different sizes raise :class:`~segmask.errors.RLEError` (pycocotools
    returns garbage for them). An empty list gives ``(0, H, W)`` with
    ``image_size``, else ``(0, 0, 0)``.

    See Also
    --------
    encode : the other way.

    Examples
    --------
    >>> decode([{"size": [2, 3], "counts": "121O0"}]).astype(int)
    array([[[0, 1, 1],
            [1, 0, 0]]])
    >>> decode([]).shape
    (0, 0, 0)
    """
    if isinstance(rles, list | tuple) and not rles:
        h, w = _validate.image_size(image_size) if image_size is not None else (0, 0)
        return np.zeros((0, h, w), bool)
    return Masks.from_rle(rles, image_size).to_dense()
