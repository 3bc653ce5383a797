"""``Predictions``: one image's instance-segmentation response, parsed into columns.

Pure parsing: no network, no disk except reading a path you pass. What the
hosted API sends (and what this accepts)::

    {"predictions": [{"x": 320.5, "y": 210, "width": 81, "height": 60,
                      "class": "cat", "confidence": 0.91, "class_id": 0,
                      "detection_id": "…", "points": [{"x": 281, "y": 180}, …]}],
     "image": {"width": 640, "height": 480}, "time": 0.03, "inference_id": "…"}

``x, y`` is the centre of the box. ``class_id``, ``detection_id``, ``image``
and the rest may be missing or null; unknown fields are kept and written back
by :meth:`Predictions.to_dict`. With ``response_mask_format=rle`` a
prediction carries ``"rle": {"size": [h, w], "counts": str}`` (some tools say
``rle_mask``) instead of ``points``. A prediction whose polygon has fewer than
3 points keeps its box and has no mask; the others keep theirs.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from . import geometry
from ._polygons import MAX_COORD
from ._ragged import offsets_from_lengths
from .errors import InputError, MaskError, ResponseFormatError, RLEError, SegmaskError
from .masks import Masks, _select
from .raster import Rule, rasterize
from .rle import parse_rles

__all__ = ["Predictions"]

_KNOWN = ("x", "y", "width", "height", "confidence", "class", "class_id", "detection_id", "points")
_RLE_KEYS = ("rle", "rle_mask")


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
        The boxes as sent: centre ``x, y``, ``width``, ``height``.
    confidence : (N,) float64 in [0, 1]
    class_name : (N,) str array
    class_id : (N,) int64, -1 where absent
    detection_id : (N,) object array of str or None
    meta : dict
        Top-level fields other than ``predictions`` and ``image`` (``time``,
        ``inference_id``, ...), kept as sent.

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
    _polygons: tuple[NDArray[np.float64] | None, ...]
    _rles: tuple[_Rle | None, ...]
    _extras: tuple[dict[str, Any], ...]
    meta: dict[str, Any] = field(default_factory=dict)
    #: How :meth:`masks` fills polygons by default: ``"contour"`` for API
    #: responses, ``"coco"`` for ground truth read by :func:`segmask.from_coco`.
    rule: Rule = "contour"

    # --- parsing ------------------------------------------------------------------

    @classmethod
    def from_response(cls, obj: Any) -> Any:
        """Parse a response: a dict, JSON ``str``/``bytes``, or a path to a .json file.

        A ``str`` is JSON when it starts with ``{`` or ``[`` (after
        whitespace), else a path. A list (a batch of responses) gives a list
        of ``Predictions``.

        Raises
        ------
        ResponseFormatError
            Naming the JSON path of the problem, e.g.
            ``predictions[3].points[7].x is 'abc', expected a number``.
        """
        where = ""
        if isinstance(obj, os.PathLike) or (isinstance(obj, str) and obj.lstrip()[:1] not in ("{", "[")):
            where = f"{os.fspath(obj)}: "
            obj = Path(obj).read_bytes()
        if isinstance(obj, str | bytes | bytearray):
            try:
                obj = json.loads(obj)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ResponseFormatError(f"{where}not valid JSON: {exc}") from None
        try:
            if isinstance(obj, list):
                return [cls._parse(item, f"[{i}].") for i, item in enumerate(obj)]
            return cls._parse(obj, "")
        except ResponseFormatError as exc:
            if where:
                raise ResponseFormatError(f"{where}{exc}") from None
            raise

    @classmethod
    def _parse(cls, obj: Any, root: str) -> Predictions:
        if not isinstance(obj, dict):
            raise ResponseFormatError(f"{root.rstrip('.') or 'response'} must be a JSON object, got {_kind(obj)}")
        preds = obj.get("predictions")
        if not isinstance(preds, list):
            raise ResponseFormatError(f"{root}predictions is {_kind(preds)}, expected a list of predictions")
        image_size = _image_size(obj.get("image"), f"{root}image")
        meta = {k: v for k, v in obj.items() if k not in ("predictions", "image")}
        if "image" in obj and image_size is None and obj["image"] is not None:
            meta["image"] = obj["image"]
        n = len(preds)
        box = np.zeros((n, 4), np.float64)
        conf = np.zeros(n, np.float64)
        names: list[str] = []
        ids = np.full(n, -1, np.int64)
        det = np.full(n, None, dtype=object)
        polygons: list[NDArray[np.float64] | None] = []
        rles: list[_Rle | None] = []
        extras: list[dict[str, Any]] = []
        for i, p in enumerate(preds):
            at = f"{root}predictions[{i}]"
            if not isinstance(p, dict):
                raise ResponseFormatError(f"{at} is {_kind(p)}, expected an object")
            for j, key in enumerate(("x", "y", "width", "height")):
                box[i, j] = _number(p, key, at)
            if box[i, 2] < 0 or box[i, 3] < 0:
                raise ResponseFormatError(f"{at} has a negative width or height")
            conf[i] = _number(p, "confidence", at)
            if not 0.0 <= conf[i] <= 1.0:
                raise ResponseFormatError(f"{at}.confidence is {p['confidence']!r}, expected a value in [0, 1]")
            name = p.get("class")
            if not isinstance(name, str):
                raise ResponseFormatError(f"{at}.class is {_kind(name)}, expected a string")
            names.append(name)
            cid = p.get("class_id")
            if cid is not None:
                if isinstance(cid, bool) or not isinstance(cid, int):
                    raise ResponseFormatError(f"{at}.class_id is {cid!r}, expected an integer")
                ids[i] = cid
            did = p.get("detection_id")
            if did is not None:
                if not isinstance(did, str):
                    raise ResponseFormatError(f"{at}.detection_id is {did!r}, expected a string")
                det[i] = did
            polygons.append(_points(p["points"], f"{at}.points") if p.get("points") is not None else None)
            rles.append(_rle(p, at))
            extras.append({k: v for k, v in p.items() if k not in _KNOWN and k not in _RLE_KEYS})
        return cls(
            image_size,
            _readonly(box),
            _readonly(conf),
            _readonly(np.array(names, dtype=str) if names else np.zeros(0, dtype=str)),
            _readonly(ids),
            _readonly(det),
            tuple(polygons),
            tuple(rles),
            tuple(extras),
            meta,
        )

    # --- columns ------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self.confidence)

    def __repr__(self) -> str:
        classes = sorted(set(self.class_name.tolist()))
        return f"Predictions(n={len(self)}, image_size={self.image_size}, classes={classes})"

    @property
    def xyxy(self) -> NDArray[np.float64]:
        """(N, 4) float64 ``[x0, y0, x1, y1]`` from the centre, width and height."""
        c = self.cxcywh
        half = c[:, 2:] / 2.0
        return np.concatenate([c[:, :2] - half, c[:, :2] + half], axis=1)

    @property
    def polygons(self) -> list[Any]:
        """Per prediction its ``points`` as a (K, 2) float64 array, None where not sent.

        After :meth:`clip`, :meth:`repair` or :meth:`simplify` a prediction
        holds a shapely ``Polygon`` or ``MultiPolygon`` instead (or None when
        nothing is left of it).
        """
        return list(self._polygons)

    @property
    def has_mask(self) -> NDArray[np.bool_]:
        """(N,) bool: the prediction has a polygon of 3 or more points, a non-empty shape, or an RLE."""
        return np.array([r is not None or _fillable(p) for p, r in zip(self._polygons, self._rles, strict=True)], bool)

    # --- geometry, per prediction -----------------------------------------------------

    def validate(self, rule: Rule = "contour") -> list[geometry.PolygonCheck]:
        """:func:`segmask.validate` on each prediction's polygon (``no_polygon`` where there is none).

        Parts outside the image are reported when the response gave its size.
        """
        rows = [i for i, p in enumerate(self._polygons) if p is not None]
        checks = geometry.validate([self._polygons[i] for i in rows], self.image_size, rule)
        out = [geometry.PolygonCheck(i, ("no_polygon",)) for i in range(len(self))]
        for i, c in zip(rows, checks, strict=True):
            out[i] = geometry.PolygonCheck(i, c.problems, c.reason, c.location)
        return out

    def clip(self, image_size: tuple[int, int] | None = None, rule: Rule = "contour") -> Predictions:
        """Cut each polygon to the image (:func:`segmask.clip`); boxes and scores stay."""
        size = image_size if image_size is not None else self.image_size
        if size is None:
            raise SegmaskError("the response has no image size: pass image_size=(height, width)")
        return self._reshape(lambda polys: geometry.clip(polys, size, rule))

    def repair(self) -> Predictions:
        """Make each polygon valid (:func:`segmask.repair`): a bow-tie becomes its two lobes."""
        return self._reshape(geometry.repair)

    def simplify(self, tolerance: float = 1.0) -> Predictions:
        """Simplify each polygon, keeping its topology (:func:`segmask.simplify`)."""
        return self._reshape(lambda polys: geometry.simplify(polys, tolerance))

    def _reshape(self, op: Any) -> Predictions:
        rows = [i for i, p in enumerate(self._polygons) if _fillable(p)]
        parts: geometry.Parts = op([self._polygons[i] for i in rows])
        shapes = list(self._polygons)
        for i, shape in zip(rows, parts.grouped(len(rows)), strict=True):
            shapes[i] = shape
        return dataclasses.replace(self, _polygons=tuple(shapes))

    def masks(self, rule: Rule | None = None, image_size: tuple[int, int] | None = None) -> Masks:
        """The N masks, aligned with the predictions (empty where ``has_mask`` is false).

        Parameters
        ----------
        rule : {"contour", "coco"}, optional
            How polygons are filled (see :func:`segmask.rasterize`); default
            :attr:`rule`. RLE predictions are exact whatever the rule.
        image_size : (height, width), optional
            Needed when the response had no ``image``.
        """
        size = image_size if image_size is not None else self.image_size
        if size is None:
            raise SegmaskError("the response has no image size: pass image_size=(height, width)")
        has = self.has_mask
        poly_idx = [i for i in np.flatnonzero(has).tolist() if self._rles[i] is None]
        rle_idx = [i for i in np.flatnonzero(has).tolist() if self._rles[i] is not None]
        empty = np.flatnonzero(~has).tolist()
        rles = [r for r in (self._rles[i] for i in rle_idx) if r is not None]
        h, w = size
        for i, r in zip(rle_idx, rles, strict=True):
            if r.size != (h, w):
                raise MaskError(f"predictions[{i}].{r.key} has size {list(r.size)} but the image is {(h, w)}")
        # The runs were decoded and checked when the response was parsed.
        counts = np.concatenate([r.counts for r in rles]) if rles else np.zeros(0, np.int64)
        lengths = np.array([len(r.counts) for r in rles], dtype=np.int64)
        parts = [
            rasterize([self._polygons[i] for i in poly_idx], size, rule=rule if rule is not None else self.rule),
            Masks._from_runs((h, w), counts, offsets_from_lengths(lengths)),
            Masks.empty(size, len(empty)),
        ]
        return Masks._assemble(parts, [poly_idx, rle_idx, empty])

    def __getitem__(self, idx: int | slice | ArrayLike) -> Predictions:
        sel = _select(idx, len(self))
        picks = sel.tolist()
        return dataclasses.replace(
            self,
            cxcywh=_readonly(self.cxcywh[sel]),
            confidence=_readonly(self.confidence[sel]),
            class_name=_readonly(self.class_name[sel]),
            class_id=_readonly(self.class_id[sel]),
            detection_id=_readonly(self.detection_id[sel]),
            _polygons=tuple(self._polygons[i] for i in picks),
            _rles=tuple(self._rles[i] for i in picks),
            _extras=tuple(self._extras[i] for i in picks),
        )

    def filter(self, min_confidence: float | None = None, classes: Sequence[str] | None = None) -> Predictions:
        """Keep predictions with ``confidence >= min_confidence`` and a class in ``classes``."""
        keep = np.ones(len(self), dtype=bool)
        if min_confidence is not None:
            keep &= self.confidence >= min_confidence
        if classes is not None:
            if isinstance(classes, str):
                raise SegmaskError("classes must be a list of class names, e.g. ['cat']")
            keep &= np.isin(self.class_name, list(classes))
        return self[keep]

    def to_dict(self) -> dict[str, Any]:
        """The response in the API's JSON shape again; nothing parsed is lost."""
        out: list[dict[str, Any]] = []
        for i in range(len(self)):
            x, y, w, h = self.cxcywh[i].tolist()
            p: dict[str, Any] = {"x": x, "y": y, "width": w, "height": h,
                                 "confidence": float(self.confidence[i]), "class": str(self.class_name[i])}  # fmt: skip
            if self.class_id[i] >= 0:
                p["class_id"] = int(self.class_id[i])
            if self.detection_id[i] is not None:
                p["detection_id"] = self.detection_id[i]
            poly = self._polygons[i]
            if isinstance(poly, shapely.Geometry):
                poly = _single_ring(poly, i)
            if poly is not None:
                p["points"] = [{"x": a, "y": b} for a, b in poly.tolist()]
            r = self._rles[i]
            if r is not None:
                p[r.key] = r.rle
            p.update(self._extras[i])
            out.append(p)
        result: dict[str, Any] = {"predictions": out}
        if self.image_size is not None:
            result["image"] = {"width": self.image_size[1], "height": self.image_size[0]}
        result.update(self.meta)
        return result


def _fillable(p: Any) -> bool:
    if isinstance(p, shapely.Geometry):
        return not p.is_empty
    return p is not None and len(p) >= 3


def _single_ring(shape: Any, i: int) -> NDArray[np.float64]:
    """A shapely polygon back to the API's one ring of points, or an error saying why it cannot be."""
    if shape.geom_type != "Polygon" or len(shape.interiors):
        raise InputError(
            f"prediction {i} is a {shape.geom_type} with holes or several parts; the API's format holds "
            "one ring per prediction: write its mask as RLE instead (masks().to_rle())"
        )
    return np.asarray(shape.exterior.coords, dtype=np.float64)[:-1]


def _kind(v: Any) -> str:
    if v is None:
        return "missing"
    text = repr(v)
    return text if len(text) <= 40 else f"a {type(v).__name__}"


def _number(p: dict[str, Any], key: str, at: str) -> float:
    v = p.get(key)
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise ResponseFormatError(f"{at}.{key} is {_kind(v)}, expected a number")
    if not math.isfinite(v):
        raise ResponseFormatError(f"{at}.{key} is {v!r}, expected a finite number")
    return float(v)


def _image_size(image: Any, at: str) -> tuple[int, int] | None:
    if image is None:
        return None
    if not isinstance(image, dict):
        raise ResponseFormatError(f"{at} is {_kind(image)}, expected an object with width and height")
    w, h = image.get("width"), image.get("height")
    for key, v in (("width", w), ("height", h)):
        if isinstance(v, bool) or not isinstance(v, int | float) or v != int(v) or v < 1:
            raise ResponseFormatError(f"{at}.{key} is {_kind(v)}, expected a positive integer")
    return int(h), int(w)  # type: ignore[arg-type]


def _points(points: Any, at: str) -> NDArray[np.float64]:
    """``[{"x": .., "y": ..}, ...]`` -> (K, 2) float64, fast when the input is clean."""
    if not isinstance(points, list):
        raise ResponseFormatError(f"{at} is {_kind(points)}, expected a list of {{x, y}} points")
    try:
        flat = [c for q in points for c in (q["x"], q["y"])]
        if set(map(type, flat)) <= {int, float}:
            arr = np.array(flat, dtype=np.float64).reshape(-1, 2)
            if np.isfinite(arr).all() and (np.abs(arr) <= MAX_COORD).all():
                return arr
    except (TypeError, KeyError):
        pass
    # Slow path: find and name the first bad point.
    for k, q in enumerate(points):
        if not isinstance(q, dict):
            raise ResponseFormatError(f"{at}[{k}] is {_kind(q)}, expected an object with x and y")
        for key in ("x", "y"):
            v = _number(q, key, f"{at}[{k}]")
            if abs(v) > MAX_COORD:
                raise ResponseFormatError(f"{at}[{k}].{key} is {v!r}, beyond the supported ±{MAX_COORD:.0f} px")
    return np.array([[q["x"], q["y"]] for q in points], dtype=np.float64).reshape(-1, 2)


class _Rle(NamedTuple):
    """A prediction's RLE as sent (under ``key``), and its runs, decoded and checked once."""

    key: str
    rle: dict[str, Any]
    size: tuple[int, int]
    counts: NDArray[np.int64]


def _rle(p: dict[str, Any], at: str) -> _Rle | None:
    for key in _RLE_KEYS:
        rle = p.get(key)
        if rle is not None:
            try:
                size, counts, _, _ = parse_rles([rle], name=f"{at}.{key}")
            except RLEError as exc:
                raise ResponseFormatError(str(exc).replace(f"{at}.{key}[0]", f"{at}.{key}")) from None
            return _Rle(key, rle, size or (0, 0), _readonly(counts))  # one RLE: it has a size
    return None
