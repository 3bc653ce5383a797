"""``Predictions``: one image's instances as columns, immutable, indexed like an array.

A ``Predictions`` holds what a response said, column by column: boxes,
confidences, classes, ids, and each instance's shape (its ``points``, its
RLE, or a shapely geometry after :meth:`~Predictions.clip` or
:meth:`~Predictions.repair`). It parses nothing itself
(:mod:`segmask.response` does), fills nothing (:mod:`segmask.raster`) and
changes no geometry (:mod:`segmask.geometry`): it keeps the columns aligned
and delegates. Every array it hands out is read-only, and every method
returns a new object.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from . import _kernel, _ragged, _validate, geometry, limits, response
from .boxes import BoxFormat, convert_boxes
from .errors import InputError, MaskError
from .masks import Masks, from_kernel, select
from .raster import rasterize, rings_to_masks
from .rules import RULES, Rule

__all__ = ["Predictions"]


def _readonly(a: NDArray[Any]) -> NDArray[Any]:
    a.setflags(write=False)
    return a


@dataclass(frozen=True, slots=True, eq=False, repr=False)
class Predictions:
    """The instances found in one image, as columns of length N.

    Build with :meth:`from_response`. Index like an array (``preds[2]``,
    ``preds[preds.confidence > 0.5]``); every method returns a new object.

    Attributes
    ----------
    image_size : (height, width) or None
        From the response's ``image``; None when it was not sent.
    cxcywh : (N, 4) float64
        The boxes as sent: centre ``x, y``, ``width``, ``height``
        (:attr:`xywh` and :attr:`xyxy` give the other formats).
    confidence : (N,) float64 in [0, 1]
    class_name : (N,) str array
    class_id : (N,) int64, -1 where absent
    detection_id : (N,) object array of str or None
    rule : {"contour", "coco"}
        How :meth:`masks` fills polygons by default: ``"contour"`` for API
        responses, ``"coco"`` for ground truth read by :func:`segmask.from_coco`.

    See Also
    --------
    Masks : what :meth:`masks` gives.

    Examples
    --------
    >>> preds = Predictions.from_response({"predictions": [
    ...     {"x": 5, "y": 5, "width": 4, "height": 4, "class": "dot", "confidence": 0.9,
    ...      "points": [{"x": 3, "y": 3}, {"x": 7, "y": 3}, {"x": 7, "y": 7}, {"x": 3, "y": 7}]}],
    ...     "image": {"width": 10, "height": 10}})
    >>> len(preds), preds.image_size, preds.xyxy.tolist()
    (1, (10, 10), [[3.0, 3.0, 7.0, 7.0]])
    >>> preds.masks().area.tolist()
    [25]
    """

    image_size: tuple[int, int] | None
    cxcywh: NDArray[np.float64]
    confidence: NDArray[np.float64]
    class_name: NDArray[np.str_]
    class_id: NDArray[np.int64]
    detection_id: NDArray[np.object_]
    # Polygons as sent: all points in one (P, 2) array, prediction i owning
    # _coords[_point_offsets[i]:_point_offsets[i + 1]]; _has_points says which sent any.
    _coords: NDArray[np.float64]
    _point_offsets: NDArray[np.int64]
    _has_points: NDArray[np.bool_]
    # Shapely geometries replacing those polygons (after clip, repair, simplify, from_coco), or None.
    _shapes: tuple[Any, ...] | None
    # Per prediction: (key, RLE dict as sent, (h, w), uint32 runs), or None.
    _rles: tuple[Any, ...]
    # Per prediction: its other fields, as sent, or None.
    _extras: tuple[dict[str, Any] | None, ...]
    _meta: dict[str, Any]
    rule: Rule = "contour"

    @classmethod
    def _build(
        cls,
        *,
        image_size: tuple[int, int] | None,
        cxcywh: NDArray[np.float64],
        confidence: NDArray[np.float64],
        class_name: NDArray[np.str_],
        class_id: NDArray[np.int64],
        detection_id: NDArray[np.object_],
        coords: NDArray[np.float64],
        offsets: NDArray[np.int64],
        has_points: NDArray[np.bool_],
        rles: tuple[Any, ...],
        extras: tuple[dict[str, Any] | None, ...],
        meta: dict[str, Any],
        shapes: tuple[Any, ...] | None = None,
        rule: Rule = "contour",
    ) -> Predictions:
        """From columns this object owns: nothing in them is shared with a caller (``meta`` and ``extras``
        are never changed in place, so derived objects share them)."""
        _kernel.buffers.freeze(cxcywh, confidence, class_name, class_id, detection_id, coords, offsets, has_points)
        return cls(image_size, cxcywh, confidence, class_name, class_id, detection_id, coords, offsets, has_points,
                   shapes, rles, extras, meta, rule)  # fmt: skip

    # --- parsing and writing ------------------------------------------------------------

    @classmethod
    def from_response(cls, obj: Any, *, key: str | None = None) -> Predictions:
        """Parse one response: a dict, JSON ``str``/``bytes``, or a path to a .json file.

        A ``str`` is JSON when it starts with ``{`` (after whitespace), else a
        path. A Roboflow Workflows output (``{"model_predictions": {...}}``) is
        read when exactly one of its values is a response; else ``key`` names
        it. A list is refused: parse each item.

        Raises
        ------
        ResponseFormatError
            Naming the JSON path of the problem, e.g.
            ``predictions[3].points[7].x is 'abc', expected a number``.

        See Also
        --------
        to_dict : the other way.
        """
        where = ""
        if key is not None and not isinstance(key, str):
            raise InputError(f"key must be the name of a Workflows output, got {key!r}")
        if isinstance(obj, os.PathLike) or (isinstance(obj, str) and obj.lstrip()[:1] not in ("{", "[")):
            where = f"{os.fspath(obj)}: "
            obj = response.read_bytes(obj)
        try:
            if isinstance(obj, str | bytes | bytearray | memoryview):
                return response.parse_json(obj, key=key)
            return response.parse(obj, key=key)
        except InputError as exc:
            if where:
                raise type(exc)(f"{where}{exc}") from None
            raise

    @classmethod
    def from_masks(
        cls,
        masks: Masks,
        *,
        confidence: ArrayLike,
        class_name: Sequence[str] | ArrayLike,
        class_id: ArrayLike | None = None,
        boxes: ArrayLike | None = None,
        format: BoxFormat = "xywh",
        detection_id: Sequence[str | None] | None = None,
    ) -> Predictions:
        """Predictions whose shapes are these masks, exactly (each held as the API's RLE variant).

        Parameters
        ----------
        masks : Masks
            N masks; their image size is the predictions'.
        confidence : (N,) float in [0, 1]
        class_name : (N,) str
        class_id : (N,) int, optional
            -1 where absent (the default).
        boxes : (N, 4), optional
            In ``format``; default the masks' own boxes (an empty mask: a box of size 0).
        format : {"xywh", "xyxy", "cxcywh"}
        detection_id : (N,) str or None, optional

        Examples
        --------
        >>> m = Masks.from_dense(np.pad(np.ones((1, 2, 3), bool), ((0, 0), (1, 1), (1, 1))))
        >>> p = Predictions.from_masks(m, confidence=[0.9], class_name=["cat"])
        >>> p.xyxy.tolist(), p.to_dict()["predictions"][0]["rle"]
        ([[1.0, 1.0, 4.0, 3.0]], {'size': [4, 5], 'counts': '5220003'})
        """
        if not isinstance(masks, Masks):
            raise InputError(f"masks must be Masks, got {type(masks).__name__}")
        n = len(masks)
        conf = _validate.scores(confidence, n, "confidence")
        bad = np.flatnonzero((conf < 0) | (conf > 1))
        if bad.size:
            raise InputError(f"confidence[{int(bad[0])}] is {conf[bad[0]]}, expected a value in [0, 1]")
        names = np.asarray(class_name)
        if names.shape != (n,) or (n and names.dtype.kind not in "UO"):
            raise InputError(f"class_name must be {n} strings, got shape {names.shape} of {names.dtype}")
        if n and not all(isinstance(c, str) for c in names.tolist()):
            raise InputError("class_name must hold strings only")
        ids = np.full(n, -1, np.int64) if class_id is None else _validate.integers(class_id, n, "class_id")
        cxcywh = convert_boxes(masks.boxes if boxes is None else boxes, source="xywh" if boxes is None else format,
                               target="cxcywh")  # fmt: skip
        if len(cxcywh) != n:
            raise InputError(f"boxes must be {n} boxes, one per mask, got {len(cxcywh)}")
        det = [None] * n if detection_id is None else list(detection_id)
        if len(det) != n or not all(d is None or isinstance(d, str) for d in det):
            raise InputError(f"detection_id must be {n} strings or None")
        runs = masks.runs
        size = masks.image_size
        rles = tuple(
            ("rle", rle, size, runs.counts[runs.offsets[i] : runs.offsets[i + 1]])
            for i, rle in enumerate(masks.to_rle())
        )
        return cls._build(
            image_size=size,
            cxcywh=cxcywh,
            confidence=conf,
            class_name=names.astype(str) if n else np.zeros(0, dtype=str),
            class_id=ids,
            detection_id=np.array(det, dtype=object),
            coords=np.zeros((0, 2), np.float64),
            offsets=np.zeros(n + 1, np.int64),
            has_points=np.zeros(n, bool),
            rles=rles,
            extras=(None,) * n,
            meta={},
        )

    def to_supervision(
        self, image_size: tuple[int, int] | None = None, *, rule: Rule | None = None, compact: bool | None = None
    ) -> Any:
        """supervision's ``Detections``: the same masks, boxes (``xyxy``), confidences, class ids and names.

        Parameters
        ----------
        image_size : (height, width), optional
            Needed when the response had no ``image``.
        rule : {"contour", "coco"}, optional
            How polygons are filled (default :attr:`rule`; supervision's own
            ``polygon_to_mask`` is the contour rule).
        compact : bool, optional
            Masks as supervision's ``CompactMask`` (crops, no full-size array)
            or dense ``(N, H, W)`` bool; by default compact where the
            installed supervision has it.

        Raises
        ------
        MissingDependencyError
            supervision is not installed (``pip install 'segmask[supervision]'``).

        See Also
        --------
        from_supervision : the other way.
        """
        from ._supervision import to_supervision

        return to_supervision(self, image_size, rule, compact)

    @classmethod
    def from_supervision(cls, detections: Any, image_size: tuple[int, int] | None = None) -> Predictions:
        """Predictions from supervision's ``Detections``, masks exact (held as RLE).

        Class names come from ``data["class_name"]`` (else the class ids as
        text); a missing confidence reads as 1.0. ``image_size`` is needed only
        when the detections have no masks.

        See Also
        --------
        to_supervision : the other way.
        """
        from ._supervision import from_supervision

        return from_supervision(cls, detections, image_size)

    def to_dict(self) -> dict[str, Any]:
        """The response in the API's JSON shape again; nothing parsed is lost.

        A shape with holes or several parts (after :meth:`repair` or
        :meth:`clip`) is written as the API's RLE variant (``"rle": {"size",
        "counts"}``), so that ``from_response(to_dict())`` gives the same masks.
        """
        return response.to_dict(self)

    @property
    def meta(self) -> dict[str, Any]:
        """Top-level fields other than ``predictions`` and ``image`` (``time``, ``inference_id``, ...), a copy."""
        return copy.deepcopy(self._meta)

    # --- columns ------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.confidence)

    def __repr__(self) -> str:
        classes = sorted(set(self.class_name.tolist()))
        return f"Predictions(n={len(self)}, image_size={self.image_size}, classes={classes})"

    @property
    def xywh(self) -> NDArray[np.float64]:
        """(N, 4) float64 COCO ``[x, y, width, height]``: the top-left corner and the size."""
        return _readonly(convert_boxes(self.cxcywh, source="cxcywh", target="xywh"))

    @property
    def xyxy(self) -> NDArray[np.float64]:
        """(N, 4) float64 ``[x0, y0, x1, y1]``."""
        return _readonly(convert_boxes(self.cxcywh, source="cxcywh", target="xyxy"))

    @property
    def polygons(self) -> list[Any]:
        """Per prediction its ``points`` as a read-only (K, 2) float64 array, None where none were sent.

        After :meth:`clip`, :meth:`repair` or :meth:`simplify` a prediction
        holds a shapely ``Polygon`` or ``MultiPolygon`` instead (or None when
        nothing is left of it).
        """
        if self._shapes is not None:
            return list(self._shapes)
        o = self._point_offsets.tolist()
        return [self._coords[o[i] : o[i + 1]] if has else None for i, has in enumerate(self._has_points.tolist())]

    @property
    def rles(self) -> list[dict[str, Any] | None]:
        """Per prediction the RLE it was sent with (``rle`` or ``rle_mask``), a copy, or None."""
        return [copy.deepcopy(r[1]) if r is not None else None for r in self._rles]

    @property
    def extras(self) -> list[dict[str, Any]]:
        """Per prediction its other fields as sent (``parent_id``, ``tracker``, ...), a copy."""
        return [copy.deepcopy(e) if e else {} for e in self._extras]

    def with_polygons(self, polygons: Sequence[Any], *, rule: Rule | None = None) -> Predictions:
        """The same predictions with other shapes: per prediction a (K, 2) array, a shapely polygon, or None.

        Boxes, scores and classes stay; ``rule`` (default the current one) says
        how :meth:`masks` fills them. A prediction's RLE, if it had one, stays
        and still gives its mask.

        Examples
        --------
        >>> import shapely
        >>> p = Predictions.from_response({"image": {"width": 8, "height": 8}, "predictions": [
        ...     {"x": 4, "y": 4, "width": 8, "height": 8, "class": "a", "confidence": 0.9}]})
        >>> p.with_polygons([shapely.box(1, 1, 5, 5)], rule="coco").masks().area.tolist()
        [16]
        """
        if isinstance(polygons, str | bytes) or not isinstance(polygons, Sequence) or len(polygons) != len(self):
            raise InputError(f"polygons must be {len(self)} shapes, one per prediction")
        shapes = []
        for i, p in enumerate(polygons):
            if p is None or isinstance(p, shapely.Geometry):
                shapes.append(p)
                continue
            arr = np.asarray(p, dtype=np.float64)
            if arr.ndim != 2 or arr.shape[1] != 2:
                raise InputError(f"polygons[{i}] must be (K, 2) points, a shapely polygon or None")
            shapes.append(_readonly(arr.copy()))
        return dataclasses.replace(self, _shapes=tuple(shapes), rule=self._rule(rule))

    @property
    def has_mask(self) -> NDArray[np.bool_]:
        """(N,) bool: an RLE, a polygon of 3 or more points, or a non-empty shape."""
        has = np.array([r is not None for r in self._rles], dtype=bool)
        if self._shapes is not None:
            has |= np.array([_fillable(s) for s in self._shapes], dtype=bool)
        else:
            has |= self._has_points & (np.diff(self._point_offsets) >= 3)
        return has

    def __getitem__(self, idx: int | slice | ArrayLike) -> Predictions:
        """Select predictions with an int, a slice, a bool mask or an int array."""
        sel = select(idx, len(self))
        picks = sel.tolist()
        coords, offsets = _ragged.take(self._coords, self._point_offsets, sel)
        return Predictions._build(
            image_size=self.image_size,
            cxcywh=self.cxcywh[sel],
            confidence=self.confidence[sel],
            class_name=self.class_name[sel],
            class_id=self.class_id[sel],
            detection_id=self.detection_id[sel],
            coords=coords,
            offsets=offsets,
            has_points=self._has_points[sel],
            rles=tuple(self._rles[i] for i in picks),
            extras=tuple(self._extras[i] for i in picks),
            meta=self._meta,
            shapes=tuple(self._shapes[i] for i in picks) if self._shapes is not None else None,
            rule=self.rule,
        )

    def translate(self, dx: int, dy: int, image_size: tuple[int, int] | None = None) -> Predictions:
        """The predictions moved by ``(dx, dy)`` pixels, onto an image of ``image_size`` (default: the same).

        Boxes and polygons move as they are; RLE masks move on their runs,
        cut to the new image. Placing a tile's predictions in the whole image:
        ``tile_preds.translate(x0, y0, (H, W))``.

        Examples
        --------
        >>> p = Predictions.from_response({"image": {"width": 4, "height": 4}, "predictions": [
        ...     {"x": 2, "y": 2, "width": 2, "height": 2, "class": "a", "confidence": 0.9,
        ...      "points": [{"x": 1, "y": 1}, {"x": 3, "y": 1}, {"x": 3, "y": 3}]}]})
        >>> q = p.translate(10, 20, (40, 30))
        >>> q.image_size, q.xyxy.tolist(), q.polygons[0][0].tolist()
        ((40, 30), [[11.0, 21.0, 13.0, 23.0]], [11.0, 21.0])
        """
        far = int(limits.MAX_COORD)
        dx = _validate.integer(dx, "dx", -far, far)
        dy = _validate.integer(dy, "dy", -far, far)
        size = self.image_size if image_size is None else _validate.image_size(image_size)
        shift = np.array([dx, dy], np.float64)
        cxcywh = self.cxcywh.copy()
        cxcywh[:, :2] += shift
        shapes = None
        if self._shapes is not None:
            shapes = tuple(
                None if g is None else shapely.transform(g, lambda c: c + shift) if isinstance(g, shapely.Geometry)
                else _readonly(g + shift)
                for g in self._shapes
            )  # fmt: skip
        rles = list(self._rles)
        picks = [i for i, r in enumerate(rles) if r is not None]
        if picks:
            sizes = {rles[i][2] for i in picks}
            if len(sizes) > 1 or (size is None and dx | dy):
                raise MaskError("translate needs one image size for the RLE masks: pass image_size=(height, width)")
            [own] = sizes
            moved = self._rle_masks(picks, own).translate(dx, dy, size or own)
            runs = moved.runs
            for j, (i, rle) in enumerate(zip(picks, moved.to_rle(), strict=True)):
                rles[i] = (rles[i][0], rle, moved.image_size, runs.counts[runs.offsets[j] : runs.offsets[j + 1]])
        return dataclasses.replace(
            self,
            image_size=size,
            cxcywh=_readonly(cxcywh),
            _coords=_readonly(self._coords + shift),
            _shapes=shapes,
            _rles=tuple(rles),
        )

    @staticmethod
    def concatenate(parts: Sequence[Predictions]) -> Predictions:
        """One ``Predictions`` from several of the same image, in order (``meta`` from the first).

        Examples
        --------
        >>> a = Predictions.from_response({"image": {"width": 8, "height": 8}, "predictions": [
        ...     {"x": 2, "y": 2, "width": 2, "height": 2, "class": "a", "confidence": 0.9}]})
        >>> len(Predictions.concatenate([a, a[:0], a])), Predictions.concatenate([a, a]).class_name.tolist()
        (2, ['a', 'a'])
        """
        if not isinstance(parts, Sequence) or not parts:
            raise InputError("concatenate needs a non-empty list of Predictions")
        for i, p in enumerate(parts):
            if not isinstance(p, Predictions):
                raise InputError(f"parts[{i}] is {type(p).__name__}, not Predictions")
        sizes = {p.image_size for p in parts}
        if len(sizes) > 1:
            raise InputError(f"the parts are of different images: sizes {sorted(sizes, key=str)}")
        rules = {p.rule for p in parts}
        if len(rules) > 1:
            raise InputError("the parts fill their polygons by different rules: give them one with with_polygons")
        shapes = None
        if any(p._shapes is not None for p in parts):
            shapes = tuple(s for p in parts for s in p.polygons)
        lengths = np.concatenate([np.diff(p._point_offsets) for p in parts])
        offsets = _ragged.offsets(lengths)
        first = parts[0]
        return Predictions._build(
            image_size=first.image_size,
            cxcywh=np.concatenate([p.cxcywh for p in parts]),
            confidence=np.concatenate([p.confidence for p in parts]),
            class_name=np.concatenate([p.class_name for p in parts]).astype(str),
            class_id=np.concatenate([p.class_id for p in parts]),
            detection_id=np.concatenate([p.detection_id for p in parts]),
            coords=np.concatenate([p._coords for p in parts]),
            offsets=offsets,
            has_points=np.concatenate([p._has_points for p in parts]),
            rles=tuple(r for p in parts for r in p._rles),
            extras=tuple(e for p in parts for e in p._extras),
            meta=first._meta,
            shapes=shapes,
            rule=first.rule,
        )

    def filter(self, *, min_confidence: float | None = None, classes: Sequence[str] | None = None) -> Predictions:
        """Keep predictions with ``confidence >= min_confidence`` and a class in ``classes``.

        Examples
        --------
        >>> p = Predictions.from_response({"predictions": [
        ...     {"x": 1, "y": 1, "width": 2, "height": 2, "class": "a", "confidence": 0.9},
        ...     {"x": 1, "y": 1, "width": 2, "height": 2, "class": "b", "confidence": 0.2}]})
        >>> len(p.filter(min_confidence=0.5)), p.filter(classes=["b"]).class_name.tolist()
        (1, ['b'])
        """
        keep = np.ones(len(self), dtype=bool)
        if min_confidence is not None:
            keep &= self.confidence >= _validate.fraction(min_confidence, "min_confidence")
        if classes is not None:
            if isinstance(classes, str) or not isinstance(classes, Sequence | set | frozenset | np.ndarray):
                raise InputError(f"classes must be a list of class names, e.g. ['cat'], got {classes!r}")
            names = list(classes)
            if not all(isinstance(c, str | np.str_) for c in names):
                raise InputError(f"classes must be class names (str), got {names!r}")
            keep &= np.isin(self.class_name, names)
        return self[keep]

    # --- geometry, per prediction -----------------------------------------------------

    def validate(self, *, rule: Rule | None = None) -> list[geometry.PolygonCheck]:
        """:func:`segmask.validate` on each prediction's polygon (``no_polygon`` where there is none).

        Parts outside the image are reported when the response gave its size.
        """
        polygons = self.polygons
        rows = [i for i, p in enumerate(polygons) if p is not None]
        checks = geometry.validate([polygons[i] for i in rows], self.image_size, rule=self._rule(rule))
        out = [geometry.PolygonCheck(i, ("no_polygon",)) for i in range(len(self))]
        for i, c in zip(rows, checks, strict=True):
            out[i] = geometry.PolygonCheck(i, c.problems, c.reason, c.location)
        return out

    def clip(self, image_size: tuple[int, int] | None = None, *, rule: Rule | None = None) -> Predictions:
        """Cut each polygon to the image (:func:`segmask.clip`); boxes and scores stay."""
        size = image_size if image_size is not None else self.image_size
        if size is None:
            raise InputError("the response has no image size: pass image_size=(height, width)")
        chosen = self._rule(rule)
        return self._reshape(lambda polys: geometry.clip(polys, size, rule=chosen))

    def repair(self) -> Predictions:
        """Make each polygon valid (:func:`segmask.repair`): a bow-tie becomes its two lobes."""
        return self._reshape(geometry.repair)

    def simplify(self, *, tolerance: float = 1.0) -> Predictions:
        """Simplify each polygon, keeping its topology (:func:`segmask.simplify`)."""
        return self._reshape(lambda polys: geometry.simplify(polys, tolerance=tolerance))

    def _reshape(self, op: Callable[[list[Any]], geometry.Parts]) -> Predictions:
        polygons = self.polygons
        rows = [i for i, p in enumerate(polygons) if _fillable(p)]
        parts = op([polygons[i] for i in rows])
        shapes: list[Any] = [None if _fillable(p) else p for p in polygons]  # too small to fill: kept as sent
        for i, shape in zip(rows, parts.grouped(len(rows)), strict=True):
            shapes[i] = shape
        return dataclasses.replace(self, _shapes=tuple(shapes))

    def _rule(self, rule: Rule | None) -> Rule:
        return self.rule if rule is None else _validate.choice("rule", rule, RULES)  # type: ignore[return-value]

    def masks(self, image_size: tuple[int, int] | None = None, *, rule: Rule | None = None) -> Masks:
        """The N masks, aligned with the predictions (empty where ``has_mask`` is false).

        Parameters
        ----------
        image_size : (height, width), optional
            Needed when the response had no ``image``.
        rule : {"contour", "coco"}, optional
            How polygons are filled (see :func:`segmask.rasterize`); default
            :attr:`rule`. RLE predictions are exact whatever the rule.
        """
        given = image_size if image_size is not None else self.image_size
        if given is None:
            raise InputError("the response has no image size: pass image_size=(height, width)")
        size = _validate.image_size(given)
        chosen = self._rule(rule)
        has = self.has_mask
        is_rle = np.array([r is not None for r in self._rles], dtype=bool)
        poly_idx = np.flatnonzero(has & ~is_rle)
        rle_idx = np.flatnonzero(is_rle)
        empty_idx = np.flatnonzero(~has)
        for i in rle_idx.tolist():
            key, _, rle_size, _ = self._rles[i]
            if rle_size != size:
                raise MaskError(f"predictions[{i}].{key} has size {list(rle_size)} but the image is {size}")
        all_polygons = len(poly_idx) == len(self)  # the usual response: no selection, no reordering
        if self._shapes is not None:
            polys = rasterize([self._shapes[i] for i in poly_idx.tolist()], size, rule=chosen)
        else:
            chosen_preds = self if all_polygons else self[poly_idx]
            polys = rings_to_masks(chosen_preds._coords, chosen_preds._point_offsets, size, chosen)
        if all_polygons:
            return polys
        rles = self._rle_masks(rle_idx.tolist(), size)
        order = np.concatenate([poly_idx, rle_idx, empty_idx])
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return Masks.concatenate([polys, rles, Masks.empty(size, n=len(empty_idx))])[inverse]

    def _rle_masks(self, picks: Sequence[int], size: tuple[int, int]) -> Masks:
        """The RLE masks of predictions ``picks`` (all of image ``size``), from the runs decoded at parsing."""
        counts = [self._rles[i][3] for i in picks]
        joined = np.concatenate(counts) if counts else np.zeros(0, np.uint32)
        return from_kernel(size, joined, _ragged.offsets(len(c) for c in counts))


def _fillable(p: Any) -> bool:
    if isinstance(p, shapely.Geometry):
        return not p.is_empty
    return p is not None and len(p) >= 3
