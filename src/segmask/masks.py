"""``Masks``: N binary masks of one image, held as crops of their boxes.

Memory grows with the instances' pixels, never with the image: mask ``i`` is
kept as the pixels of its tight bounding box (one bool per pixel, column-major
like COCO's runs), all crops in one flat array with offsets. A 1920x1080 image
with 100 instances of 200x200 px costs 4 MB here, 207 MB as a dense
``(N, H, W)`` bool stack. Dense arrays appear only when asked for
(:meth:`Masks.to_dense`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _validate
from ._ragged import local_index, offsets_from_lengths, segment_sum
from .errors import MaskError
from .rle import counts_to_crops, counts_to_strings, crops_to_counts, parse_rles

__all__ = ["RLE", "Masks", "decode", "encode"]

#: A COCO RLE as segmask writes it: ``{"size": [h, w], "counts": str}``.
RLE = dict[str, Any]


def _readonly(a: NDArray[Any]) -> NDArray[Any]:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Masks:
    """N binary masks of one ``(height, width)`` image, stored as crops.

    Build one with :func:`segmask.rasterize`, :meth:`from_dense` or
    :meth:`from_rle`; the constructor's fields are internal.

    Attributes
    ----------
    image_size : (height, width)

    Examples
    --------
    >>> import numpy as np
    >>> dense = np.zeros((2, 4, 5), dtype=bool)
    >>> dense[0, 1:3, 1:4] = True
    >>> dense[1, 0, 4] = True
    >>> masks = Masks.from_dense(dense)
    >>> len(masks), masks.image_size, masks.area.tolist()
    (2, (4, 5), [6, 1])
    >>> masks.boxes.tolist()
    [[1.0, 1.0, 3.0, 2.0], [4.0, 0.0, 1.0, 1.0]]
    >>> masks.to_rle()[0]
    {'size': [4, 5], 'counts': '5220003'}
    """

    image_size: tuple[int, int]
    _data: NDArray[np.bool_]
    _offsets: NDArray[np.int64]
    _boxes: NDArray[np.int64]
    _area: NDArray[np.int64]
    # The runs, when they were made first (coco rule, RLE input): saves to_rle
    # a pass over the pixels.
    _runs: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None

    @classmethod
    def _from_counts(cls, image_size: tuple[int, int], counts: NDArray[np.int64], offsets: NDArray[np.int64]) -> Masks:
        data, crop_offsets, boxes = counts_to_crops(counts, offsets, image_size)
        return cls._from_crops(image_size, data, crop_offsets, boxes, (counts, offsets))

    @classmethod
    def _from_crops(
        cls,
        image_size: tuple[int, int],
        data: NDArray[np.bool_],
        offsets: NDArray[np.int64],
        boxes: NDArray[np.int64],
        runs: tuple[NDArray[np.int64], NDArray[np.int64]] | None = None,
    ) -> Masks:
        if runs is not None:
            area = segment_sum(np.where(local_index(runs[1]) % 2 == 1, runs[0], 0), runs[1])
            runs = (_readonly(runs[0]), _readonly(runs[1]))
        else:
            area = segment_sum(data, offsets)
        return cls(
            image_size,
            _readonly(np.asarray(data, dtype=bool)),
            _readonly(np.asarray(offsets, dtype=np.int64)),
            _readonly(np.asarray(boxes, dtype=np.int64).reshape(-1, 4)),
            _readonly(area),
            runs,
        )

    @classmethod
    def empty(cls, image_size: tuple[int, int], n: int = 0) -> Masks:
        """``n`` empty masks (area 0) of an image of ``image_size``."""
        size = _validate.image_size(image_size)
        return cls._from_crops(size, np.zeros(0, bool), np.zeros(n + 1, np.int64), np.zeros((n, 4), np.int64))

    # --- constructors -------------------------------------------------------------

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
        dense: NDArray[np.bool_] = a if a.dtype == bool else a != 0
        _, h, w = dense.shape
        rows = np.any(dense, axis=2)
        cols = np.any(dense, axis=1)
        full = np.any(rows, axis=1)
        y0 = rows.argmax(axis=1)
        y1 = h - rows[:, ::-1].argmax(axis=1)
        x0 = cols.argmax(axis=1)
        x1 = w - cols[:, ::-1].argmax(axis=1)
        boxes = np.where(full[:, None], np.stack([x0, y0, x1 - x0, y1 - y0], axis=1), 0).astype(np.int64)
        parts = [dense[i, y0[i] : y1[i], x0[i] : x1[i]].T.ravel() for i in np.flatnonzero(full).tolist()]
        data = np.concatenate(parts) if parts else np.zeros(0, bool)
        return cls._from_crops((h, w), data, offsets_from_lengths(boxes[:, 2] * boxes[:, 3]), boxes)

    @classmethod
    def from_rle(cls, rles: Sequence[RLE], image_size: tuple[int, int] | None = None) -> Masks:
        """Masks from COCO RLE dicts (``str``/``bytes`` or list counts), all checked.

        ``image_size`` is needed only for an empty list; otherwise it must
        match the RLEs' ``size``.
        """
        size, counts, offsets = parse_rles(rles)
        if size is None:
            if image_size is None:
                raise MaskError("an empty list of RLEs has no image size: pass image_size=(h, w)")
            return cls.empty(image_size)
        if image_size is not None and _validate.image_size(image_size) != size:
            raise MaskError(f"the RLEs have size {list(size)} but image_size is {tuple(image_size)}")
        return cls._from_counts(size, counts, offsets)

    # --- what a mask set is -------------------------------------------------------

    def __len__(self) -> int:
        return len(self._boxes)

    def __repr__(self) -> str:
        return f"Masks(n={len(self)}, image_size={self.image_size}, pixels={int(self._area.sum())})"

    @property
    def area(self) -> NDArray[np.int64]:
        """(N,) int64: pixels in each mask."""
        return self._area

    @property
    def boxes(self) -> NDArray[np.float64]:
        """(N, 4) float64: COCO ``[x, y, w, h]`` of each mask's pixels (zeros when empty)."""
        return self._boxes.astype(np.float64)

    @property
    def nbytes(self) -> int:
        """Bytes held by this mask set."""
        return int(self._data.nbytes + self._offsets.nbytes + self._boxes.nbytes + self._area.nbytes)

    def crop(self, i: int) -> tuple[NDArray[np.bool_], tuple[int, int]]:
        """Mask ``i`` as ``(pixels, (x, y))``: its box's ``(h, w)`` bool pixels and their top-left corner.

        The pixels are a read-only view (no copy).
        """
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"mask index {i} is out of range for {n} masks")
        i %= n
        x, y, w, h = (int(v) for v in self._boxes[i])
        flat = self._data[self._offsets[i] : self._offsets[i + 1]]
        return flat.reshape(w, h).T, (x, y)

    def to_dense(self) -> NDArray[np.bool_]:
        """(N, H, W) bool: every mask at full image size. This allocates N*H*W bytes."""
        h, w = self.image_size
        out = np.zeros((len(self), h, w), dtype=bool)
        for i in np.flatnonzero(self._area).tolist():
            pixels, (x, y) = self.crop(i)
            out[i, y : y + pixels.shape[0], x : x + pixels.shape[1]] = pixels
        return out

    def to_rle(self) -> list[RLE]:
        """COCO RLEs, byte-identical to pycocotools' ``encode`` but with ``str`` counts."""
        if self._runs is not None:
            counts, offsets = self._runs
        else:
            counts, offsets = crops_to_counts(self._data, self._offsets, self._boxes, self.image_size)
        size = list(self.image_size)
        return [{"size": size.copy(), "counts": s} for s in counts_to_strings(counts, offsets)]

    def __getitem__(self, idx: int | slice | ArrayLike) -> Masks:
        """Select masks with an int, a slice, a bool mask or an int array; gives ``Masks``."""
        sel = _select(idx, len(self))
        sizes = self._boxes[sel, 2] * self._boxes[sel, 3]
        off = self._offsets
        parts = [self._data[off[i] : off[i + 1]] for i in sel.tolist()]
        data = np.concatenate(parts) if parts else np.zeros(0, bool)
        return Masks._from_crops(self.image_size, data, offsets_from_lengths(sizes), self._boxes[sel])

    @staticmethod
    def concatenate(parts: Sequence[Masks]) -> Masks:
        """One mask set from several of the same image size, in order."""
        if not parts:
            raise MaskError("concatenate needs at least one Masks")
        size = parts[0].image_size
        for i, p in enumerate(parts):
            if p.image_size != size:
                raise MaskError(f"parts[{i}] has image size {p.image_size} but parts[0] has {size}")
        boxes = np.concatenate([p._boxes for p in parts])
        data = np.concatenate([p._data for p in parts])
        return Masks._from_crops(size, data, offsets_from_lengths(boxes[:, 2] * boxes[:, 3]), boxes)


def _select(idx: Any, n: int) -> NDArray[np.int64]:
    if isinstance(idx, slice):
        return np.arange(n, dtype=np.int64)[idx]
    if isinstance(idx, int | np.integer) and not isinstance(idx, bool):
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
        return arr % n if n else arr
    raise IndexError(f"index must be an int, a slice, a bool array or an int array, got {idx!r}")


def as_masks(value: Masks | Sequence[RLE] | ArrayLike, name: str) -> Masks | None:
    """Coerce what ``iou`` accepts into Masks; None for an empty list."""
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

    Examples
    --------
    >>> import numpy as np
    >>> encode(np.eye(3, dtype=bool))
    [{'size': [3, 3], 'counts': '013000'}]
    """
    return Masks.from_dense(array).to_rle()


def decode(rles: Sequence[RLE]) -> NDArray[np.bool_]:
    """COCO RLE dicts -> (N, H, W) bool, checking every RLE first.

    ``str``, ``bytes`` and list (uncompressed) counts are accepted. A counts
    string with a bad character, runs that do not sum to ``h * w`` and RLEs
    of different sizes raise :class:`~segmask.errors.RLEError` (pycocotools
    returns garbage for them).

    Examples
    --------
    >>> decode([{"size": [2, 3], "counts": "121O0"}]).astype(int)
    array([[[0, 1, 1],
            [1, 0, 0]]])
    """
    return Masks.from_rle(rles).to_dense()
