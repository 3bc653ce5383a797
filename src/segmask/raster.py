"""Polygons to masks under two named rules, straight to runs.

``rule="contour"``: the polygon is a contour through the centres of the
mask's boundary pixels, as Roboflow's server (and ``cv2.findContours``) makes
it. Vertices are rounded to the nearest pixel (half up: ``floor(v + 0.5)``)
and the polygon is filled as ``cv2.fillPoly`` fills it: its 8-connected
outline and the spans between its edges, row by row, with OpenCV's own
fixed-point arithmetic and clipping. A mask whose outer contour is taken
with ``cv2.findContours(RETR_EXTERNAL, CHAIN_APPROX_SIMPLE)`` comes back
pixel for pixel.

``rule="coco"``: pycocotools' ``frPyObjects`` rule, bit for bit. Pixel
``(x, y)`` spans ``[x, x + 1) x [y, y + 1)``; vertices are snapped to a
1/5-pixel grid and a pixel is in when its centre is inside the snapped
polygon (even-odd). pycocotools walks every 1/5 pixel of every edge, so a
vertex far outside costs it seconds and gigabytes; here each edge's
crossings with the image's columns are computed directly.

Both are in :mod:`segmask._kernel.fill` and make runs without a canvas: a polygon
as large as the image costs its outline, not its area. Tests check both
against pycocotools and OpenCV themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from numpy.typing import NDArray

from . import _kernel, _ragged, _validate, limits
from ._polygons import as_polygon_batch, check_coordinates, checked_batch
from .errors import PolygonError
from .masks import Masks, from_kernel
from .rules import RULES, Rule

__all__ = ["rasterize"]


def rasterize(
    polygons: Sequence[Any] | NDArray[np.floating],
    image_size: tuple[int, int],
    *,
    rule: Rule = "contour",
) -> Masks:
    """Fill polygons into masks of an image of ``image_size = (height, width)``.

    Parameters
    ----------
    polygons : sequence of (K, 2) float arrays, nested ``[[x, y], ...]`` lists, flat lists or shapely polygons
        One polygon per instance, in pixels, ``x`` to the right and ``y`` down.
        A shapely ``Polygon`` or ``MultiPolygon`` may have holes and several
        parts: a hole takes away what is inside its ring (under the contour
        rule the ring's own pixels stay, as ``cv2.findContours`` traces a hole
        through the pixels around it), and parts are united.
        Parts outside the image are cut off (not an error).
    image_size : (height, width)
    rule : {"contour", "coco"}
        ``"contour"`` (default): vertices are boundary-pixel centres, as in an
        API response; filled as ``cv2.fillPoly`` after rounding half up,
        boundary included. ``"coco"``: identical to pycocotools
        ``frPyObjects``; pixel centres inside the polygon snapped to 1/5 px.

    Returns
    -------
    Masks
        N masks, as runs (see :class:`Masks`).

    Raises
    ------
    PolygonError
        A polygon with fewer than 3 points, an odd flat list, NaN or infinite
        coordinates, or coordinates beyond ±2**28 px; the message names it.

    See Also
    --------
    Predictions.masks : the masks of a response, each polygon by its own rule.
    masks_to_polygons : the other way.

    Examples
    --------
    >>> square = [[1, 1], [3, 1], [3, 3], [1, 3]]
    >>> rasterize([square], (5, 5), rule="contour").to_dense()[0].astype(int)
    array([[0, 0, 0, 0, 0],
           [0, 1, 1, 1, 0],
           [0, 1, 1, 1, 0],
           [0, 1, 1, 1, 0],
           [0, 0, 0, 0, 0]])
    >>> rasterize([square], (5, 5), rule="coco").to_dense()[0].astype(int)
    array([[0, 0, 0, 0, 0],
           [0, 1, 1, 0, 0],
           [0, 1, 1, 0, 0],
           [0, 0, 0, 0, 0],
           [0, 0, 0, 0, 0]])
    """
    size = _validate.image_size(image_size)
    rule = _validate.choice("rule", rule, RULES)  # type: ignore[assignment]
    if type(polygons) is list:  # the common forms, read and filled in one kernel call
        runs = _kernel.fill.from_lists(polygons, limits.MAX_COORD, size[0], size[1], rule == "coco")
        if runs is not None:
            return from_kernel(size, *runs)
    if isinstance(polygons, Sequence) and any(isinstance(p, shapely.Geometry) for p in polygons):
        return _rasterize_mixed(polygons, size, rule)
    return rings_to_masks(*checked_batch(polygons), size, rule)


def rings_to_masks(
    coords: NDArray[np.float64],
    offsets: NDArray[np.int64],
    size: tuple[int, int],
    rule: str,
    holes: NDArray[np.bool_] | None = None,
) -> Masks:
    """Checked rings (flat coordinates with offsets) to masks; a hole ring gives its strict inside."""
    h, w = size
    coords = np.ascontiguousarray(coords, dtype=np.float64)
    if rule == "coco":
        return from_kernel(size, *_kernel.fill.coco_rule(coords, offsets, h, w))
    flags = holes.astype(np.uint8) if holes is not None else _NO_HOLES
    return from_kernel(size, *_kernel.fill.contour_rule(coords, offsets, h, w, flags))


_NO_HOLES = np.zeros(0, np.uint8)


def _rasterize_mixed(polygons: Sequence[Any], size: tuple[int, int], rule: str) -> Masks:
    """Shapely polygons (with holes, several parts) beside plain ones, in their order."""
    is_geom = np.array([isinstance(p, shapely.Geometry) for p in polygons])
    plain = np.flatnonzero(~is_geom)
    fancy = np.flatnonzero(is_geom)
    coords, offsets = as_polygon_batch([polygons[i] for i in plain.tolist()])
    first = rings_to_masks(coords, offsets, size, rule)
    second = _rasterize_geometries([polygons[i] for i in fancy.tolist()], fancy, size, rule)
    order = np.concatenate([plain, fancy])
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    return Masks.concatenate([first, second])[inverse]


def _rasterize_geometries(geoms: list[Any], where: NDArray[np.int64], size: tuple[int, int], rule: str) -> Masks:
    """Each (Multi)Polygon: its parts' exteriors minus their holes, parts united."""
    arr = np.array(geoms, dtype=object)
    kinds = shapely.get_type_id(arr)
    bad = np.flatnonzero(~np.isin(kinds, (3, 6)))  # Polygon, MultiPolygon
    if bad.size:
        i = int(bad[0])
        raise PolygonError(
            f"polygons[{int(where[i])}] is a {arr[i].geom_type}; only Polygon and MultiPolygon have an area to fill"
        )
    parts, owner = shapely.get_parts(arr, return_index=True)
    full = ~shapely.is_empty(parts)
    parts, owner = parts[full], owner[full]
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    lengths = np.bincount(ring_of, minlength=len(rings)).astype(np.int64)
    offsets = _ragged.offsets(lengths)
    check_coordinates(coords, offsets, where[owner[ring_part]] if len(rings) else where[:0])
    is_hole = np.ones(len(rings), dtype=bool)
    if len(rings):
        is_hole[np.flatnonzero(np.concatenate([[True], ring_part[1:] != ring_part[:-1]]))] = False
    ring_masks = rings_to_masks(coords, offsets, size, rule, is_hole)
    exteriors = ring_masks[~is_hole]
    hole_idx = np.flatnonzero(is_hole)
    # Per part: its exterior minus the union of its holes (an empty mask added per part keeps every label).
    hole_union = Masks.concatenate([ring_masks[hole_idx], Masks.empty(size, n=len(parts))]).merge(
        np.concatenate([ring_part[hole_idx], np.arange(len(parts))])
    )
    part_masks = exteriors.difference(hole_union)
    # Per instance: the union of its parts; an empty geometry gives an empty mask.
    return Masks.concatenate([part_masks, Masks.empty(size, n=len(geoms))]).merge(
        np.concatenate([owner, np.arange(len(geoms))])
    )
