"""``Masks``: N binary masks of one image, never stored at image size.

A mask set holds each mask in the form it was made in, and derives the others
only when asked, once:

* **strings**: COCO compressed counts (from pycocotools' polygon rule or RLE
  input): to_rle costs nothing;
* **runs**: the column-major run lengths (one int64 per run): area and
  boxes are one pass over the runs;
* **crops**: the pixels of each mask's tight box (one bool per pixel,
  column-major like the runs), all crops in one flat array with offsets
  (from OpenCV's fill or dense input): IoU works on these.

Memory grows with the instances' boundaries (runs) or pixels (crops), never
with the image: on a 1920x1080 image, 100 instances of 200x200 px cost 4 MB
as crops and about 0.3 MB as runs, and 207 MB as a dense ``(N, H, W)`` bool
stack, which appears only when asked for (:meth:`Masks.to_dense`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pycocotools import _mask as _pycocotools_mask

from . import _validate
from ._ragged import concat_ranges, offsets_from_lengths, segment_sum
from .errors import MaskError
from .rle import (
    combine_runs,
    counts_to_crops,
    counts_to_strings,
    crops_to_counts,
    parse_rles,
    runs_area,
    runs_boxes,
    strings_to_counts,
    toggles_to_counts,
)

__all__ = [
    "RLE",
    "Masks",
    "as_masks",
    "decode",
    "encode",
]

#: A COCO RLE as segmask writes it: ``{"size": [h, w], "counts": str}``.
RLE = dict[str, Any]

Runs = tuple[NDArray[np.int64], NDArray[np.int64]]
Crops = tuple[NDArray[np.bool_], NDArray[np.int64]]


def _readonly(a: NDArray[Any]) -> NDArray[Any]:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Masks:
    """N binary masks of one ``(height, width)`` image.

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
    _n: int
    # "strings": list[str]; "runs": Runs; "crops": Crops (with "boxes");
    # "boxes": (N, 4) int64; "area": (N,) int64. Filled in lazily, never changed.
    _forms: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def _make(cls, image_size: tuple[int, int], n: int, **forms: Any) -> Masks:
        for value in forms.values():
            for a in value if isinstance(value, tuple) else (value,):
                if isinstance(a, np.ndarray):
                    _readonly(a)
        return cls(image_size, n, dict(forms))

    @classmethod
    def _from_crops(
        cls, image_size: tuple[int, int], data: NDArray[np.bool_], offsets: NDArray[np.int64], boxes: NDArray[np.int64]
    ) -> Masks:
        boxes = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
        return cls._make(image_size, len(boxes), crops=(data, offsets), boxes=boxes)

    @classmethod
    def _from_runs(cls, image_size: tuple[int, int], counts: NDArray[np.int64], offsets: NDArray[np.int64]) -> Masks:
        return cls._make(image_size, len(offsets) - 1, runs=(counts, offsets))

    @classmethod
    def _from_strings(cls, image_size: tuple[int, int], strings: list[str]) -> Masks:
        """From compressed counts known to be valid (made by pycocotools or segmask)."""
        return cls._make(image_size, len(strings), strings=strings, trusted=True)

    @classmethod
    def empty(cls, image_size: tuple[int, int], n: int = 0) -> Masks:
        """``n`` empty masks (area 0) of an image of ``image_size``."""
        size = _validate.image_size(image_size)
        return cls._from_crops(size, np.zeros(0, bool), np.zeros(n + 1, np.int64), np.zeros((n, 4), np.int64))

    # --- the lazily derived forms -------------------------------------------------

    def _runs(self) -> Runs:
        runs: Runs | None = self._forms.get("runs")
        if runs is None:
            if "strings" in self._forms:
                runs = strings_to_counts([s.encode("ascii") for s in self._forms["strings"]])
            else:
                data, offsets = self._crops()
                runs = crops_to_counts(data, offsets, self._boxes(), self.image_size)
            self._forms["runs"] = (_readonly(runs[0]), _readonly(runs[1]))
        return runs

    def _strings(self) -> list[str]:
        strings: list[str] | None = self._forms.get("strings")
        if strings is None:
            strings = counts_to_strings(*self._runs())
            self._forms["strings"] = strings
        return strings

    def _boxes(self) -> NDArray[np.int64]:
        boxes: NDArray[np.int64] | None = self._forms.get("boxes")
        if boxes is None:
            if self._trusted_strings():
                boxes = _pycocotools_mask.toBbox(self._pycocotools_rles()).astype(np.int64).reshape(-1, 4)
            else:
                boxes = runs_boxes(*self._runs(), self.image_size)
            self._forms["boxes"] = boxes = _readonly(boxes)
        return boxes

    def _trusted_strings(self) -> bool:
        """Strings made by pycocotools or segmask (never user input), not yet decoded.

        For these, pycocotools' C ``area`` and ``toBbox`` are exact and much
        faster than decoding the strings in numpy (images under 2**32 px,
        where its uint32 areas cannot overflow).
        """
        h, w = self.image_size
        return self._forms.get("trusted", False) and "runs" not in self._forms and h * w < 2**32

    def _pycocotools_rles(self) -> list[dict[str, Any]]:
        size = list(self.image_size)
        return [{"size": size, "counts": s.encode("ascii")} for s in self._forms["strings"]]

    def _crops(self) -> Crops:
        crops: Crops | None = self._forms.get("crops")
        if crops is None:
            data, offsets, boxes = counts_to_crops(*self._runs(), self.image_size, self._forms.get("boxes"))
            self._forms["boxes"] = _readonly(boxes)
            crops = (_readonly(data), _readonly(offsets))
            self._forms["crops"] = crops
        return crops

    def _crop_views(self) -> list[NDArray[np.bool_]]:
        """Every mask's ``(h, w)`` pixels, as views into the crops."""
        data, offsets = self._crops()
        boxes = self._boxes()
        return [
            data[a:b].reshape(w, h).T
            for a, b, w, h in zip(offsets[:-1].tolist(), offsets[1:].tolist(), boxes[:, 2].tolist(),
                                  boxes[:, 3].tolist(), strict=True)
        ]  # fmt: skip

    def _placed(self) -> list[tuple[NDArray[np.bool_], int, int]]:
        """Every mask's ``(h, w)`` pixels (a view) with the ``x, y`` of their top-left corner."""
        boxes = self._boxes()
        views = self._crop_views()
        return [(v, x, y) for v, x, y in zip(views, boxes[:, 0].tolist(), boxes[:, 1].tolist(), strict=True)]

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
        h, w = a.shape
        flat = a.ravel(order="F").astype(np.int64)
        # Runs of equal value, column-major: where the value changes.
        starts = np.flatnonzero(np.concatenate([[True], flat[1:] != flat[:-1]]))
        values = flat[starts]
        ends = np.append(starts[1:], flat.size)
        fg = values > 0
        ids, owner = np.unique(values[fg], return_inverse=True)
        order = np.lexsort((starts[fg], owner))
        owner, run_start, run_end = owner[order], starts[fg][order], ends[fg][order]
        pos = np.stack([run_start, run_end], axis=1).ravel()
        who = np.repeat(owner, 2)
        return cls._from_runs((h, w), *toggles_to_counts(pos, who, len(ids), (h, w))), ids.astype(np.int64)

    def to_labels(self) -> tuple[NDArray[np.integer], int]:
        """An instance-id image: mask ``i`` has value ``i + 1`` (uint8, uint16 past 255 masks).

        Where masks overlap, the later one wins; the second value counts the
        pixels where an earlier mask was overwritten.
        """
        h, w = self.image_size
        if len(self) > 65535:
            raise MaskError(f"{len(self)} masks do not fit a 16-bit instance-id image (65535 at most)")
        out = np.zeros((h, w), dtype=np.uint8 if len(self) <= 255 else np.uint16)
        overwritten = 0
        for i, (pixels, x, y) in enumerate(self._placed()):
            region = out[y : y + pixels.shape[0], x : x + pixels.shape[1]]
            overwritten += int(np.count_nonzero(region[pixels]))
            region[pixels] = i + 1
        return out, overwritten

    @classmethod
    def from_rle(cls, rles: Sequence[RLE], image_size: tuple[int, int] | None = None) -> Masks:
        """Masks from COCO RLE dicts (``str``/``bytes`` or list counts), all checked.

        ``image_size`` is needed only for an empty list; otherwise it must
        match the RLEs' ``size``.
        """
        size, counts, offsets, strings = parse_rles(rles)
        if size is None:
            if image_size is None:
                raise MaskError("an empty list of RLEs has no image size: pass image_size=(h, w)")
            return cls.empty(image_size)
        if image_size is not None and _validate.image_size(image_size) != size:
            raise MaskError(f"the RLEs have size {list(size)} but image_size is {tuple(image_size)}")
        if strings is not None:
            return cls._make(size, len(strings), runs=(counts, offsets), strings=strings)
        return cls._from_runs(size, counts, offsets)

    # --- what a mask set is -------------------------------------------------------

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"Masks(n={len(self)}, image_size={self.image_size}, pixels={int(self.area.sum())})"

    @property
    def area(self) -> NDArray[np.int64]:
        """(N,) int64: pixels in each mask."""
        area: NDArray[np.int64] | None = self._forms.get("area")
        if area is None:
            if self._trusted_strings():
                # pycocotools 2.0.11 overflows in area() from 256 RLEs a call.
                rles = self._pycocotools_rles()
                chunks = [_pycocotools_mask.area(rles[i : i + 255]) for i in range(0, len(rles), 255)]
                area = np.concatenate(chunks).astype(np.int64) if chunks else np.zeros(0, np.int64)
            elif "runs" in self._forms or "crops" not in self._forms:
                area = runs_area(*self._runs())
            else:
                area = segment_sum(*self._forms["crops"])
            self._forms["area"] = area = _readonly(area)
        return area

    @property
    def boxes(self) -> NDArray[np.float64]:
        """(N, 4) float64: COCO ``[x, y, w, h]`` of each mask's pixels (zeros when empty)."""
        return self._boxes().astype(np.float64)

    @property
    def nbytes(self) -> int:
        """Bytes held now by this mask set's arrays and strings."""
        total = 0
        for value in self._forms.values():
            if isinstance(value, bool):
                continue
            if isinstance(value, list):
                total += sum(len(s) for s in value)
            else:
                total += sum(a.nbytes for a in (value if isinstance(value, tuple) else (value,)))
        return total

    def crop(self, i: int) -> tuple[NDArray[np.bool_], tuple[int, int]]:
        """Mask ``i`` as ``(pixels, (x, y))``: its box's ``(h, w)`` bool pixels and their top-left corner.

        The pixels are a read-only view (no copy).
        """
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"mask index {i} is out of range for {n} masks")
        i %= n
        data, offsets = self._crops()
        x, y, w, h = (int(v) for v in self._boxes()[i])
        return data[offsets[i] : offsets[i + 1]].reshape(w, h).T, (x, y)

    def to_dense(self) -> NDArray[np.bool_]:
        """(N, H, W) bool: every mask at full image size. This allocates N*H*W bytes."""
        h, w = self.image_size
        out = np.zeros((len(self), h, w), dtype=bool)
        for i, (pixels, x, y) in enumerate(self._placed()):
            out[i, y : y + pixels.shape[0], x : x + pixels.shape[1]] = pixels
        return out

    def to_rle(self) -> list[RLE]:
        """COCO RLEs, byte-identical to pycocotools' ``encode`` but with ``str`` counts."""
        size = list(self.image_size)
        return [{"size": size.copy(), "counts": s} for s in self._strings()]

    def __getitem__(self, idx: int | slice | ArrayLike) -> Masks:
        """Select masks with an int, a slice, a bool mask or an int array; gives ``Masks``."""
        sel = _select(idx, len(self))
        picks = sel.tolist()
        forms: dict[str, Any] = {}
        for key, value in self._forms.items():
            if key == "trusted":
                forms[key] = value
            elif key == "strings":
                forms[key] = [value[i] for i in picks]
            elif key == "runs":
                flat, offsets = value
                lengths = np.diff(offsets)[sel]
                forms[key] = (flat[concat_ranges(offsets[:-1][sel], lengths)], offsets_from_lengths(lengths))
            elif key == "crops":
                # Pixels: copied by slices, never through an index per pixel.
                flat, offsets = value
                lengths = np.diff(offsets)[sel]
                pieces = [flat[offsets[i] : offsets[i + 1]] for i in picks]
                data = np.concatenate(pieces) if pieces else np.zeros(0, bool)
                forms[key] = (data, offsets_from_lengths(lengths))
            else:
                forms[key] = value[sel]
        return Masks._make(self.image_size, len(sel), **forms)

    # --- set operations, on the runs --------------------------------------------------

    def union(self, other: Masks) -> Masks:
        """``self[i] | other[i]`` for each i: two sets of the same length and image size."""
        return self._pairwise(other, "union")

    def intersection(self, other: Masks) -> Masks:
        """``self[i] & other[i]`` for each i."""
        return self._pairwise(other, "intersection")

    def difference(self, other: Masks) -> Masks:
        """``self[i] & ~other[i]`` for each i."""
        return self._pairwise(other, "difference")

    def _pairwise(self, other: Masks, op: str) -> Masks:
        if not isinstance(other, Masks):
            raise MaskError(f"{op} needs another Masks, got {type(other).__name__}")
        if other.image_size != self.image_size or len(other) != len(self):
            raise MaskError(
                f"{op} pairs masks one to one: got {len(self)} masks of {self.image_size} "
                f"and {len(other)} of {other.image_size}"
            )
        n = len(self)
        both = Masks.concatenate([self, other])
        ids = np.arange(n, dtype=np.int64)
        groups = np.concatenate([ids, ids])
        sides = np.repeat(np.array([0, 1], dtype=np.int64), n)
        return Masks._from_runs(self.image_size, *combine_runs(both._runs(), groups, sides, n, op, self.image_size))

    def merge(self, groups: ArrayLike | None = None) -> Masks:
        """Union of masks: of all of them (one mask), or one mask per group label.

        Parameters
        ----------
        groups : (N,) int, optional
            A label per mask; the result has one mask per distinct label, in
            increasing label order.

        Examples
        --------
        >>> m = Masks.from_dense(np.eye(3, dtype=bool)[:, None, :].repeat(3, axis=1))
        >>> m.merge().area.tolist(), m.merge([0, 1, 0]).area.tolist()
        ([9], [6, 3])
        """
        if groups is None:
            labels = np.zeros(len(self), dtype=np.int64)
        else:
            g = np.asarray(groups)
            if g.shape != (len(self),) or (g.size and g.dtype.kind not in "iu"):
                raise MaskError(f"groups must be {len(self)} integer labels, got shape {g.shape}")
            _, labels = np.unique(g, return_inverse=True)
        n_out = int(labels.max()) + 1 if labels.size else (1 if groups is None else 0)
        sides = np.zeros(len(self), dtype=np.int64)
        runs = combine_runs(self._runs(), labels.astype(np.int64), sides, n_out, "union", self.image_size)
        return Masks._from_runs(self.image_size, *runs)

    @staticmethod
    def _assemble(parts: Sequence[Masks], positions: Sequence[ArrayLike]) -> Masks:
        """One set in which mask ``j`` of ``parts[k]`` stands at ``positions[k][j]``."""
        order = np.concatenate([np.asarray(p, dtype=np.int64).reshape(-1) for p in positions])
        joined = Masks.concatenate(parts)
        if np.array_equal(order, np.arange(len(order))):
            return joined
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return joined[inverse]

    @staticmethod
    def concatenate(parts: Sequence[Masks]) -> Masks:
        """One mask set from several of the same image size, in order."""
        if not parts:
            raise MaskError("concatenate needs at least one Masks")
        size = parts[0].image_size
        for i, p in enumerate(parts):
            if p.image_size != size:
                raise MaskError(f"parts[{i}] has image size {p.image_size} but parts[0] has {size}")
        n = sum(len(p) for p in parts)
        if all("strings" in p._forms for p in parts):
            trusted = all(p._forms.get("trusted", False) for p in parts)
            return Masks._make(size, n, strings=[s for p in parts for s in p._forms["strings"]], trusted=trusted)
        if all("runs" in p._forms for p in parts):
            counts = np.concatenate([p._forms["runs"][0] for p in parts])
            lengths = np.concatenate([np.diff(p._forms["runs"][1]) for p in parts])
            return Masks._from_runs(size, counts, offsets_from_lengths(lengths))
        boxes = np.concatenate([p._boxes() for p in parts])
        data = np.concatenate([p._crops()[0] for p in parts])
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
