"""Polygon geometry with shapely 2: validate, repair, clip and simplify, vectorized.

Every function takes a sequence of polygons in the forms :func:`segmask.rasterize`
takes ((K, 2) arrays, nested or flat lists, shapely polygons) and works on all
of them with shapely's array functions (``linearrings``, ``is_valid_reason``,
``make_valid``, ``clip_by_rect``, ``simplify``), never a Python loop of shapely
objects.

:func:`validate` reports, it never raises for bad geometry. :func:`repair`,
:func:`clip` and :func:`simplify` give :class:`Parts`: a flat list of shapely
polygons and, for each, the index of the input it came from (a bow-tie
becomes two triangles, a polygon leaving the image and coming back becomes
two pieces, a polygon wholly outside becomes none).

Coordinates are pixels. The image's rectangle depends on the rule: under
``rule="contour"`` vertices are pixel centres, so the image spans
``[-0.5, W - 0.5] x [-0.5, H - 0.5]``; under ``rule="coco"`` pixel ``j``
spans ``[j, j + 1)``, so the image spans ``[0, W] x [0, H]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import shapely
from numpy.typing import NDArray

from . import _validate, limits
from ._polygons import as_polygon_batch
from .errors import InputError
from .rules import RULES, Rule

__all__ = [
    "Parts",
    "PolygonCheck",
    "clip",
    "image_rect",
    "polygon_area",
    "polygons_from_rings",
    "repair",
    "simplify",
    "to_shapely",
    "validate",
]

#: The problems :func:`validate` names.
PROBLEMS = (
    "too_few_points",
    "odd_coordinates",
    "not_finite",
    "too_far",
    "zero_area",
    "self_intersection",
    "self_touching",
    "invalid",
    "outside_image",
    "partly_outside",
)


#: Below this area (square pixels: a billionth of a pixel) a polygon is reported as ``zero_area``.
ZERO_AREA = 1e-9


@dataclass(frozen=True, slots=True)
class PolygonCheck:
    """What :func:`validate` found about one polygon.

    Attributes
    ----------
    index : int
        The polygon's position in the input.
    problems : tuple of str
        Codes from ``PROBLEMS``; empty when the polygon is fine.
    reason : str or None
        shapely's (GEOS's) reason when the geometry is invalid, e.g. ``"Self-intersection"``.
    location : (x, y) or None
        Where that reason applies.

    See Also
    --------
    validate : what gives them.
    """

    index: int
    problems: tuple[str, ...]
    reason: str | None = None
    location: tuple[float, float] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.ok:
            return f"polygons[{self.index}]: ok"
        text = f"polygons[{self.index}]: {', '.join(self.problems)}"
        if self.reason:
            text += f" ({self.reason}"
            text += f" at x={self.location[0]:g}, y={self.location[1]:g})" if self.location else ")"
        return text


class Parts(NamedTuple):
    """Polygons made from the inputs: ``polygons[k]`` came from input ``source[k]``.

    See Also
    --------
    repair, clip, simplify : what gives them.
    """

    polygons: list[shapely.Polygon]
    source: NDArray[np.int64]

    def grouped(self, n: int) -> list[shapely.Polygon | shapely.MultiPolygon | None]:
        """One geometry per input: its only part, a MultiPolygon of its parts, or None."""
        out: list[Any] = [None] * n
        for i in np.unique(self.source).tolist():
            mine = [self.polygons[k] for k in np.flatnonzero(self.source == i).tolist()]
            out[i] = mine[0] if len(mine) == 1 else shapely.MultiPolygon(mine)
        return out


def _sequence(polygons: object) -> Sequence[Any]:
    """The polygons as a sequence (a single array of (N, K, 2) is N polygons), or an InputError."""
    if isinstance(polygons, np.ndarray) and polygons.ndim == 3:
        return list(polygons)
    if isinstance(polygons, str | bytes | dict | np.ndarray) or not isinstance(polygons, Sequence):
        raise InputError(f"polygons must be a sequence of polygons, got {type(polygons).__name__}")
    return polygons


def image_rect(image_size: tuple[int, int], *, rule: Rule = "contour") -> tuple[float, float, float, float]:
    """The image's ``(xmin, ymin, xmax, ymax)`` in the polygon coordinates of ``rule``."""
    h, w = _validate.image_size(image_size)
    rule = _validate.choice("rule", rule, RULES)  # type: ignore[assignment]
    return (-0.5, -0.5, w - 0.5, h - 0.5) if rule == "contour" else (0.0, 0.0, float(w), float(h))


def to_shapely(polygons: Sequence[Any]) -> NDArray[np.object_]:
    """Checked polygons -> an object array of shapely geometries, built in one call.

    Raises :class:`~segmask.errors.PolygonError` as :func:`segmask.rasterize` does.
    """
    plain = [i for i, p in enumerate(polygons) if not isinstance(p, shapely.Geometry)]
    out = np.empty(len(polygons), dtype=object)
    for i, p in enumerate(polygons):
        if isinstance(p, shapely.Geometry):
            out[i] = p
    if plain:
        coords, offsets = as_polygon_batch([polygons[i] for i in plain])
        out[plain] = polygons_from_rings(coords, offsets)
    return out


def polygons_from_rings(
    coords: NDArray[np.float64], offsets: NDArray[np.int64], shells: NDArray[np.int64] | None = None
) -> NDArray[np.object_]:
    """Shapely polygons from rings kept flat, built in two calls.

    Ring ``r`` is ``coords[offsets[r]:offsets[r + 1]]``. Without ``shells``
    each ring is a polygon; with it, ``shells[r]`` is the polygon ring ``r``
    belongs to (sorted), its first ring the exterior and the others holes.
    """
    ids = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    rings = shapely.linearrings(coords, indices=ids)
    polygons = shapely.polygons(rings) if shells is None else shapely.polygons(rings, indices=shells)
    return np.asarray(polygons, dtype=object)


def validate(
    polygons: Sequence[Any], image_size: tuple[int, int] | None = None, *, rule: Rule = "contour"
) -> list[PolygonCheck]:
    """Check every polygon and name its problems; never raises for bad geometry.

    Parameters
    ----------
    polygons : sequence of polygons
    image_size : (height, width), optional
        With it, polygons wholly or partly outside the image are reported.
    rule : {"contour", "coco"}
        Which coordinates the image rectangle is in (see the module docstring).

    Returns
    -------
    list of PolygonCheck
        One per polygon, in order; print them, or keep ``[c for c in checks if not c.ok]``.

    Notes
    -----
    ``zero_area``, ``outside_image`` and ``partly_outside`` look at an invalid
    polygon as GEOS's ``make_valid(method="structure")`` rebuilds it.

    Examples
    --------
    >>> checks = validate([[[0, 0], [4, 0], [4, 4]], [[0, 0], [2, 2], [2, 0], [0, 2]], [[1, 1], [2, 2]]])
    >>> for c in checks:
    ...     print(c)
    polygons[0]: ok
    polygons[1]: self_intersection (Self-intersection at x=1, y=1)
    polygons[2]: too_few_points
    """
    polygons = _sequence(polygons)
    size = _validate.image_size(image_size) if image_size is not None else None
    rule = _validate.choice("rule", rule, RULES)  # type: ignore[assignment]
    n = len(polygons)
    problems: list[list[str]] = [[] for _ in range(n)]
    reasons: list[str | None] = [None] * n
    locations: list[tuple[float, float] | None] = [None] * n
    geoms = np.full(n, None, dtype=object)
    arrays: dict[int, NDArray[np.float64]] = {}
    for i, p in enumerate(polygons):
        if isinstance(p, shapely.Geometry):
            geoms[i] = p
            continue
        try:
            arr = np.asarray(p, dtype=np.float64)
        except (TypeError, ValueError):  # not numbers at all: an input error, not geometry
            raise InputError(f"polygons[{i}] must be numbers: (K, 2) points or a flat x, y list") from None
        if arr.ndim == 1:
            if arr.size % 2:
                problems[i].append("odd_coordinates")
                continue
            arr = arr.reshape(-1, 2)
        elif arr.ndim != 2 or arr.shape[1] != 2:
            raise InputError(f"polygons[{i}] must have shape (K, 2) or be a flat x, y list, got {arr.shape}")
        if len(arr) < 3:
            problems[i].append("too_few_points")
        if not np.isfinite(arr).all():
            problems[i].append("not_finite")
        elif arr.size and np.abs(arr).max() > limits.MAX_COORD:
            problems[i].append("too_far")
        if not problems[i]:
            arrays[i] = arr
    if arrays:
        idx = list(arrays)
        lengths = np.array([len(arrays[i]) for i in idx])
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        geoms[idx] = polygons_from_rings(np.concatenate([arrays[i] for i in idx]), offsets)
    have = np.flatnonzero(geoms != None)  # noqa: E711 - elementwise on an object array
    if not have.size:
        return [PolygonCheck(i, tuple(problems[i])) for i in range(n)]
    g = geoms[have]
    why = shapely.is_valid_reason(g)
    # Only "is there any area, and where": GEOS's faster "structure" repair
    # answers that (repair() itself keeps pycocotools' even-odd reading).
    made = _make_valid(g, why == "Valid Geometry", method="structure")
    parts, owner = _polygon_parts(made)
    area = np.bincount(owner, weights=shapely.area(parts), minlength=len(g))
    rect = shapely.box(*image_rect(size, rule=rule)) if size is not None else None
    # Where the repair leaves no area (a ring folded flat), its own outline says where it lies.
    placed = np.where(area >= ZERO_AREA, made, shapely.boundary(g))
    touches = shapely.intersects(placed, rect) if rect is not None else None
    inside = shapely.covered_by(placed, rect) if rect is not None else None
    for k, i in enumerate(have.tolist()):
        if area[k] < ZERO_AREA:
            problems[i].append("zero_area")
        if why[k] != "Valid Geometry":
            reason, location = _split_reason(str(why[k]))
            reasons[i], locations[i] = reason, location
            if reason.startswith("Ring Self-intersection"):
                # The ring touches itself at a point (contours do at one-pixel
                # tips): invalid for GEOS, harmless for the pixels.
                problems[i].append("self_touching")
            elif "Self-intersection" in reason:
                problems[i].append("self_intersection")
            elif area[k] >= ZERO_AREA:
                problems[i].append("invalid")
        if touches is not None and inside is not None:
            if not touches[k]:
                problems[i].append("outside_image")
            elif not inside[k]:
                problems[i].append("partly_outside")
    return [PolygonCheck(i, tuple(problems[i]), reasons[i], locations[i]) for i in range(n)]


def _make_valid(geoms: NDArray[np.object_], valid: NDArray[np.bool_], method: str = "linework") -> NDArray[np.object_]:
    """``shapely.make_valid`` on the invalid geometries only (valid ones it would return as they are).

    ``"linework"`` reads a crossing ring even-odd, as pycocotools fills it (a
    region the ring goes round twice is a hole); ``"structure"`` is about 13
    times faster on self-intersecting rings of 200 vertices.
    """
    out = geoms.copy()
    if not valid.all():
        out[~valid] = shapely.make_valid(geoms[~valid], method=method, keep_collapsed=method == "linework")
    return out


def _split_reason(text: str) -> tuple[str, tuple[float, float] | None]:
    """``"Self-intersection[1.5 2]"`` -> ``("Self-intersection", (1.5, 2.0))``."""
    if "[" in text and text.endswith("]"):
        name, _, where = text[:-1].partition("[")
        values = where.split()
        if len(values) >= 2:
            try:
                x, y = float(values[0]), float(values[1])
            except ValueError:
                return name, None
            if math.isfinite(x) and math.isfinite(y):
                return name, (x, y)
        return name, None
    return text, None


def _polygon_parts(geoms: NDArray[np.object_]) -> tuple[NDArray[np.object_], NDArray[np.int64]]:
    """Every non-empty Polygon inside each geometry (collections and multi-parts opened)."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    # A collection from make_valid may hold multi-polygons: open them too.
    inner, inner_owner = shapely.get_parts(parts, return_index=True)
    owner = owner[inner_owner]
    keep = (shapely.get_type_id(inner) == 3) & ~shapely.is_empty(inner)
    return inner[keep], owner[keep].astype(np.int64)


def _as_parts(geoms: NDArray[np.object_], drop_empty_area: bool = False) -> Parts:
    """Polygon parts of each geometry. ``drop_empty_area`` only for valid geometry:
    an invalid ring such as a bow-tie has shoelace area 0 but pixels to fill."""
    parts, owner = _polygon_parts(geoms)
    if drop_empty_area and len(parts):
        keep = shapely.area(parts) > 0
        parts, owner = parts[keep], owner[keep]
    return Parts(list(parts), owner)


def repair(polygons: Sequence[Any]) -> Parts:
    """Make every polygon valid (``shapely.make_valid``), keeping only areas.

    A bow-tie becomes its two triangles, with the area pycocotools counts for
    it (shapely gives the invalid ring area 0); lines and points that
    ``make_valid`` leaves from degenerate pieces are dropped.

    Returns
    -------
    Parts
        ``polygons`` and, for each, the ``source`` input index.

    Examples
    --------
    >>> parts = repair([[[0, 0], [2, 2], [2, 0], [0, 2]], [[0, 0], [3, 0], [0, 3]]])
    >>> sorted(p.area for p in parts.polygons), parts.source.tolist()
    ([1.0, 1.0, 4.5], [0, 0, 1])
    """
    geoms = to_shapely(_sequence(polygons))
    return _as_parts(_make_valid(geoms, shapely.is_valid(geoms)), drop_empty_area=True)


def clip(polygons: Sequence[Any], image_size: tuple[int, int], *, rule: Rule = "contour") -> Parts:
    """Cut every polygon to the image's rectangle (``shapely.clip_by_rect``).

    A polygon wholly outside gives no part; one that leaves the image and
    comes back gives several. An invalid polygon inside the image passes
    unchanged; one that crosses the border is cut as GEOS sees it, so repair
    invalid polygons first for exact results.

    Examples
    --------
    >>> parts = clip([[[-5, 1], [5, 1], [5, 3], [-5, 3]], [[20, 20], [30, 20], [30, 30]]], (10, 10), rule="coco")
    >>> [p.bounds for p in parts.polygons], parts.source.tolist()
    ([(0.0, 1.0, 5.0, 3.0)], [0])
    """
    rect = image_rect(image_size, rule=rule)
    return _as_parts(shapely.clip_by_rect(to_shapely(_sequence(polygons)), *rect))


def simplify(polygons: Sequence[Any], *, tolerance: float = 1.0) -> Parts:
    """Topology-preserving simplification (``shapely.simplify``), ``tolerance`` in pixels.

    Examples
    --------
    >>> parts = simplify([[[0, 0], [5, 0.1], [10, 0], [10, 10], [0, 10]]], tolerance=0.5)
    >>> len(shapely.get_coordinates(parts.polygons[0])) - 1
    4
    """
    tolerance = _validate.number(tolerance, "tolerance", 0.0)
    return _as_parts(shapely.simplify(to_shapely(_sequence(polygons)), tolerance, preserve_topology=True))


def polygon_area(polygons: Sequence[Any] | NDArray[np.floating]) -> NDArray[np.float64]:
    """Exact shoelace area of each polygon, in square pixels.

    Self-intersecting polygons get the signed sum of their lobes (as the
    shoelace formula gives it), made positive; this is geometry, not a pixel
    count: use ``rasterize(...).area`` for that.

    Parameters
    ----------
    polygons : sequence of (K, 2) arrays or flat x, y lists

    Returns
    -------
    (N,) float64

    See Also
    --------
    validate : zero_area, among other problems.

    Examples
    --------
    >>> polygon_area([[[0, 0], [4, 0], [4, 3]], [0, 0, 2, 0, 2, 2, 0, 2]])
    array([6., 4.])
    """
    coords, offsets = as_polygon_batch(polygons)
    if not len(coords):
        return np.zeros(0, np.float64)
    nxt = np.arange(1, len(coords) + 1)
    nxt[offsets[1:] - 1] = offsets[:-1]
    # Relative to each polygon's first vertex, to keep precision far from 0.
    origin = np.repeat(coords[offsets[:-1]], np.diff(offsets), axis=0)
    a = coords - origin
    b = coords[nxt] - origin
    cross = a[:, 0] * b[:, 1] - a[:, 1] * b[:, 0]
    return np.abs(np.add.reduceat(cross, offsets[:-1])) / 2.0
