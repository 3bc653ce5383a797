"""N instances as aligned columns: the one internal type every reader builds and ``Predictions`` wraps.

Every format converts into :class:`Columns` directly, never through another
format's JSON (as hotcoco converts every format into its one dataset type)::

    the API's JSON ── response ──┐
    supervision ── _supervision ─┤
    COCO ─────────── coco ───────┼──► Columns ──► Predictions (predictions.py)
    YOLO ─────────── yolo ───────┤
    PNG ──────────── png ────────┤
    tiles ────────── tiling ─────┘

A batch of N instances is arrays of length N (boxes, confidences, classes,
ids), the polygons as sent kept flat (all points in one ``(P, 2)`` array,
instance ``i`` owning ``coords[offsets[i]:offsets[i + 1]]``), and per
instance its RLE (an :class:`RLERef`), its other fields as sent and, after
a geometric operation, its shapely shape.

The constructor checks what every reader hands it: aligned lengths, the
dtypes, and class names that round-trip. A class name is a ``str`` (never
converted: ``1`` is not ``"1"``) without a NUL character (numpy's str arrays
drop trailing NULs, so ``"cat\\x00"`` would come back as ``"cat"``) or a
lone surrogate (no UTF-8 file can hold one). Its arrays are frozen;
nothing in it is shared with a caller, and ``meta`` and ``extras`` are
never changed in place, so derived columns share them.

Examples
--------
>>> from segmask.masks import Masks
>>> cols = from_masks(Masks.from_dense(np.ones((1, 2, 3), bool)), confidence=[0.9], class_name=["cat"])
>>> len(cols), cols.cxcywh.tolist(), cols.rles[0].rle
(1, [[1.5, 1.0, 3.0, 2.0]], {'size': [2, 3], 'counts': '06'})
>>> from_masks(Masks.empty((2, 3), n=1), confidence=[0.9], class_name=["cat\\x00"])
Traceback (most recent call last):
...
segmask.errors.InputError: class_name[0] is 'cat\\x00': a class name cannot hold a NUL character
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import InitVar, dataclass
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import _kernel, _ragged, _validate
from .boxes import BoxFormat, convert_boxes
from .errors import InputError
from .masks import Masks, from_kernel
from .rules import Rule

__all__ = ["Columns", "RLERef", "class_names", "from_masks", "rle_refs"]


class RLERef(NamedTuple):
    """One instance's mask as the API's RLE variant: the field it came in, the dict as sent, its runs."""

    #: The field it came in (``"rle"``, or ``"rle_mask"`` as some tools say), for messages.
    key: str
    #: The RLE dict as sent (this object's own copy), written back as it is.
    rle: dict[str, Any]
    #: ``(height, width)`` from its ``size``.
    size: tuple[int, int]
    #: Its runs (uint32), decoded and checked once, where it entered.
    counts: NDArray[np.uint32]


def class_names(values: Any, at: Callable[[int], str] = lambda i: f"class_name[{i}]") -> NDArray[np.str_]:
    """Class names as a str array, each a ``str`` that round-trips, else an :class:`InputError` naming it.

    ``values`` is a sequence of names or a 1-d str array; ``at(i)`` names item ``i`` in the message. The
    rule of every reader: :class:`Columns` applies it to whatever it is given.
    """
    n = len(values)
    if isinstance(values, np.ndarray) and values.dtype.kind == "U":
        # Already text: numpy kept no trailing NUL to find, but it keeps an inner NUL and a surrogate.
        codes = np.ascontiguousarray(values).view(np.uint32).reshape(n, values.dtype.itemsize // 4)
        used = codes != 0
        length = np.where(used.any(axis=1), codes.shape[1] - np.argmax(used[:, ::-1], axis=1), 0)
        bad = np.flatnonzero(((codes >= 0xD800) & (codes <= 0xDFFF)).any(axis=1) | (used.sum(axis=1) < length))
        if bad.size:
            _refuse(str(values[bad[0]]), int(bad[0]), at)
        return values
    names = values.tolist() if isinstance(values, np.ndarray) else list(values)
    try:  # one pass for the usual case: all str, none with a NUL or a surrogate
        text = "".join(names)
        text.encode("utf-8")
        ok = "\x00" not in text
    except (TypeError, UnicodeEncodeError):
        ok = False
    if not ok:
        for i, name in enumerate(names):
            _refuse(name, i, at)
    return np.array(names, dtype=str) if n else np.zeros(0, dtype=str)


def _refuse(name: Any, i: int, at: Callable[[int], str]) -> None:
    """Raise for class name ``name`` (instance ``i``) if it does not round-trip; return if it does."""
    if not isinstance(name, str):
        text = repr(name)
        shown = text if len(text) <= 40 else f"a {type(name).__name__}"
        raise InputError(f"{at(i)} is {shown}, expected a string (a class name is never converted)")
    if "\x00" in name:
        raise InputError(f"{at(i)} is {name[:40]!r}: a class name cannot hold a NUL character")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{at(i)} is {name[:40]!r}: a lone surrogate, which no UTF-8 text can hold") from None


def _one_per_instance(names: Any, n: int) -> bool:
    if isinstance(names, np.ndarray):
        return bool(names.shape == (n,))
    return isinstance(names, list | tuple) and len(names) == n


def _expect(name: str, a: Any, shape: tuple[int, ...], dtype: type) -> None:
    if not isinstance(a, np.ndarray) or a.shape != shape or a.dtype != dtype:
        got = f"{a.shape} of {a.dtype}" if isinstance(a, np.ndarray) else type(a).__name__
        raise InputError(f"columns: {name} must be {shape} of {np.dtype(dtype)}, got {got}")


@dataclass(frozen=True, slots=True, eq=False)
class Columns:
    """N instances of one image as aligned columns (see the module's docstring).

    ``class_name`` may be given as a sequence of ``str`` (checked one by
    one, then made an array) or a str array; ``at(i)`` names instance
    ``i``'s class in messages (default ``class_name[i]``).
    """

    image_size: tuple[int, int] | None
    #: (N, 4) float64: centre x, y, width, height.
    cxcywh: NDArray[np.float64]
    #: (N,) float64 in [0, 1].
    confidence: NDArray[np.float64]
    #: (N,) str (given as a sequence of str too: checked one by one, then made an array).
    class_name: NDArray[np.str_]
    #: (N,) int64, -1 where absent.
    class_id: NDArray[np.int64]
    #: (N,) object: str or None.
    detection_id: NDArray[np.object_]
    #: (P, 2) float64: every instance's points as sent, one after the other.
    coords: NDArray[np.float64]
    #: (N + 1,) int64: instance i's points are coords[offsets[i]:offsets[i + 1]].
    offsets: NDArray[np.int64]
    #: (N,) bool: which instances sent points at all.
    has_points: NDArray[np.bool_]
    #: Per instance its RLE, or None.
    rles: tuple[RLERef | None, ...]
    #: Per instance its other fields as sent, or None.
    extras: tuple[dict[str, Any] | None, ...]
    #: The response's fields other than predictions and image.
    meta: dict[str, Any]
    #: Per instance a shapely shape (or None) replacing its points, after clip, repair or from_coco; else None.
    shapes: tuple[Any, ...] | None = None
    rule: Rule = "contour"
    at: InitVar[Callable[[int], str] | None] = None

    def __post_init__(self, at: Callable[[int], str] | None) -> None:
        n = len(self.confidence)
        _expect("cxcywh", self.cxcywh, (n, 4), np.float64)
        _expect("confidence", self.confidence, (n,), np.float64)
        _expect("class_id", self.class_id, (n,), np.int64)
        _expect("detection_id", self.detection_id, (n,), np.object_)
        _expect("offsets", self.offsets, (n + 1,), np.int64)
        _expect("coords", self.coords, (int(self.offsets[-1]), 2), np.float64)
        _expect("has_points", self.has_points, (n,), np.bool_)
        lengths = {"rles": len(self.rles), "extras": len(self.extras)}
        if self.shapes is not None:
            lengths["shapes"] = len(self.shapes)
        for name, length in lengths.items():
            if length != n:
                raise InputError(f"columns: {name} must hold {n} items, one per instance, got {length}")
        names_given: Any = self.class_name  # a sequence of str is welcome too
        if not _one_per_instance(names_given, n):
            raise InputError(f"columns: class_name must be {n} names, one per instance")
        names = class_names(names_given, at) if at is not None else class_names(names_given)
        object.__setattr__(self, "class_name", names)
        _kernel.buffers.freeze(self.cxcywh, self.confidence, names, self.class_id, self.detection_id, self.coords,
                       self.offsets, self.has_points)  # fmt: skip

    def __len__(self) -> int:
        return len(self.confidence)

    def replace(self, **changes: Any) -> Columns:
        """These columns with some fields changed (checked again)."""
        return dataclasses.replace(self, at=None, **changes)

    def polygons(self) -> list[Any]:
        """Per instance its shape if it has one, else its points (a read-only (K, 2) view), or None."""
        if self.shapes is not None:
            return list(self.shapes)
        o = self.offsets.tolist()
        return [self.coords[o[i] : o[i + 1]] if has else None for i, has in enumerate(self.has_points.tolist())]

    def take(self, sel: NDArray[np.int64]) -> Columns:
        """Instances ``sel`` (int64 indices, checked by the caller), in that order."""
        picks = sel.tolist()
        coords, offsets = _ragged.take(self.coords, self.offsets, sel)
        return Columns(
            self.image_size, self.cxcywh[sel], self.confidence[sel], self.class_name[sel], self.class_id[sel],
            self.detection_id[sel], coords, offsets, self.has_points[sel], tuple(self.rles[i] for i in picks),
            tuple(self.extras[i] for i in picks), self.meta,
            tuple(self.shapes[i] for i in picks) if self.shapes is not None else None, self.rule,
        )  # fmt: skip

    @staticmethod
    def concatenate(parts: Sequence[Columns]) -> Columns:
        """One batch from several of one image and one rule (the caller checks), ``meta`` from the first."""
        shapes = None
        if any(p.shapes is not None for p in parts):
            shapes = tuple(s for p in parts for s in p.polygons())
        first = parts[0]
        return Columns(
            first.image_size,
            np.concatenate([p.cxcywh for p in parts]),
            np.concatenate([p.confidence for p in parts]),
            np.concatenate([p.class_name for p in parts]),
            np.concatenate([p.class_id for p in parts]),
            np.concatenate([p.detection_id for p in parts]),
            np.concatenate([p.coords for p in parts]),
            _ragged.offsets(np.concatenate([np.diff(p.offsets) for p in parts])),
            np.concatenate([p.has_points for p in parts]),
            tuple(r for p in parts for r in p.rles),
            tuple(e for p in parts for e in p.extras),
            first.meta,
            shapes,
            first.rule,
        )

    def rle_masks(self, picks: Sequence[int], size: tuple[int, int]) -> Masks:
        """The RLE masks of instances ``picks`` (each has one, of image ``size``), from the runs decoded on entry."""
        counts = [self.rles[i].counts for i in picks]  # type: ignore[union-attr]
        joined = np.concatenate(counts) if counts else np.zeros(0, np.uint32)
        return from_kernel(size, joined, _ragged.offsets(len(c) for c in counts))


def rle_refs(masks: Masks) -> tuple[RLERef, ...]:
    """Each mask as the API's RLE variant (``"rle"``): its COCO RLE dict and its runs."""
    runs = masks.runs
    o = runs.offsets.tolist()
    size = masks.image_size
    return tuple(RLERef("rle", rle, size, runs.counts[o[i] : o[i + 1]]) for i, rle in enumerate(masks.to_rle()))


def from_masks(
    masks: Masks,
    *,
    confidence: ArrayLike,
    class_name: Sequence[str] | ArrayLike,
    class_id: ArrayLike | None = None,
    boxes: ArrayLike | None = None,
    format: BoxFormat = "xywh",
    detection_id: Sequence[str | None] | None = None,
    extras: Sequence[dict[str, Any] | None] | None = None,
    at: Callable[[int], str] | None = None,
) -> Columns:
    """Columns whose shapes are these masks, exactly; see :meth:`segmask.Predictions.from_masks`.

    ``extras`` are each instance's other fields (owned by the result from
    here on); ``at(i)`` names instance ``i``'s class name in messages.
    """
    if not isinstance(masks, Masks):
        raise InputError(f"masks must be Masks, got {type(masks).__name__}")
    n = len(masks)
    conf = _validate.scores(confidence, n, "confidence")
    bad = np.flatnonzero((conf < 0) | (conf > 1))
    if bad.size:
        raise InputError(f"confidence[{int(bad[0])}] is {conf[bad[0]]}, expected a value in [0, 1]")
    if isinstance(class_name, np.ndarray):
        if class_name.shape != (n,) or (n and class_name.dtype.kind not in "UO"):
            raise InputError(f"class_name must be {n} strings, got shape {class_name.shape} of {class_name.dtype}")
        names: Any = class_name.astype(str) if class_name.dtype.kind == "U" else class_name  # a copy: frozen here
    else:
        names = [] if isinstance(class_name, str) else list(class_name)  # type: ignore[arg-type]
        if isinstance(class_name, str) or len(names) != n:
            raise InputError(f"class_name must be {n} strings, got {class_name!r:.60}")
    ids = np.full(n, -1, np.int64) if class_id is None else _validate.integers(class_id, n, "class_id")
    cxcywh = convert_boxes(masks.boxes if boxes is None else boxes, source="xywh" if boxes is None else format,
                           target="cxcywh")  # fmt: skip
    if len(cxcywh) != n:
        raise InputError(f"boxes must be {n} boxes, one per mask, got {len(cxcywh)}")
    det = [None] * n if detection_id is None else list(detection_id)
    if len(det) != n or not all(d is None or isinstance(d, str) for d in det):
        raise InputError(f"detection_id must be {n} strings or None")
    more = (None,) * n if extras is None else tuple(extras)
    return Columns(
        masks.image_size, cxcywh, conf, names, ids, np.array(det, dtype=object), np.zeros((0, 2), np.float64),
        np.zeros(n + 1, np.int64), np.zeros(n, bool), rle_refs(masks), more, {}, at=at,
    )  # fmt: skip
