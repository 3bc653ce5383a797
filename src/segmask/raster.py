"""Polygons to masks under two named rules.

``rule="contour"``: the polygon is a contour through the centres of the
mask's boundary pixels, as Roboflow's server (and ``cv2.findContours``) makes
it. Vertices are rounded to the nearest pixel (half up: ``floor(v + 0.5)``)
and the polygon is filled with ``cv2.fillPoly``, boundary pixels included. A
mask whose outer contour is taken with ``cv2.findContours(RETR_EXTERNAL,
CHAIN_APPROX_SIMPLE)`` comes back pixel for pixel.

``rule="coco"``: pycocotools' ``frPyObjects`` rule, bit for bit. Pixel
``(x, y)`` spans ``[x, x + 1) x [y, y + 1)``; vertices are snapped to a
1/5-pixel grid and a pixel is in when its centre is inside the snapped
polygon (even-odd). This module carries an exact, vectorized port of
pycocotools' ``rleFrPoly`` that only visits the image's columns, so a vertex
far outside the image costs nothing (pycocotools walks every 1/5 pixel of
every edge: seconds and gigabytes for one vertex at 1e7).

The two rules differ on the boundary: on a contour polygon the coco rule
keeps about half of the boundary pixels.

Both rules give crops (see :mod:`segmask.rle`); nothing of image size is
allocated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import cv2
import numpy as np
import shapely
from numpy.typing import NDArray
from pycocotools import _mask as _pycocotools_mask

from . import _validate
from ._polygons import as_polygon_batch, check_coordinates
from ._ragged import concat_ranges, item_ids, local_index, offsets_from_lengths
from .errors import PolygonError
from .masks import Masks
from .rle import counts_to_strings, toggles_to_counts

__all__ = [
    "RULES",
    "coco_strings",
    "contour_crops",
    "rasterize",
]

Rule = Literal["contour", "coco"]
RULES: tuple[str, ...] = ("contour", "coco")

Crops = tuple[NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]]


def rasterize(
    polygons: Sequence[Any] | NDArray[np.floating],
    image_size: tuple[int, int],
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
        API response; filled with ``cv2.fillPoly`` after rounding half up,
        boundary included. ``"coco"``: identical to pycocotools
        ``frPyObjects``; pixel centres inside the polygon snapped to 1/5 px.

    Returns
    -------
    Masks
        N masks, never at image size (see :class:`Masks`).

    Raises
    ------
    PolygonError
        A polygon with fewer than 3 points, an odd flat list, NaN or infinite
        coordinates, or coordinates beyond ±2**28 px; the message names it.

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
    if isinstance(polygons, Sequence) and any(isinstance(p, shapely.Geometry) for p in polygons):
        return _rasterize_mixed(polygons, size, rule)
    coords, offsets = as_polygon_batch(polygons)
    return _rasterize_rings(coords, offsets, size, rule)


def _rasterize_rings(
    coords: NDArray[np.float64],
    offsets: NDArray[np.int64],
    size: tuple[int, int],
    rule: str,
    holes: NDArray[np.bool_] | None = None,
) -> Masks:
    if rule == "contour":
        return Masks._from_crops(size, *contour_crops(coords, offsets, size, holes))
    return Masks._from_strings(size, coco_strings(coords, offsets, size))


def _rasterize_mixed(polygons: Sequence[Any], size: tuple[int, int], rule: str) -> Masks:
    """Shapely polygons (with holes, several parts) beside plain ones, in their order."""
    is_geom = np.array([isinstance(p, shapely.Geometry) for p in polygons])
    plain = np.flatnonzero(~is_geom)
    fancy = np.flatnonzero(is_geom)
    coords, offsets = as_polygon_batch([polygons[i] for i in plain.tolist()])
    first = _rasterize_rings(coords, offsets, size, rule)
    second = _rasterize_geometries([polygons[i] for i in fancy.tolist()], fancy, size, rule)
    return Masks._assemble([first, second], [plain, fancy])


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
    offsets = offsets_from_lengths(lengths)
    check_coordinates(coords, offsets, where[owner[ring_part]] if len(rings) else where[:0])
    is_hole = np.ones(len(rings), dtype=bool)
    if len(rings):
        is_hole[np.flatnonzero(np.concatenate([[True], ring_part[1:] != ring_part[:-1]]))] = False
    ring_masks = _rasterize_rings(coords, offsets, size, rule, is_hole)
    exteriors = ring_masks[~is_hole]
    hole_idx = np.flatnonzero(is_hole)
    # Per part: its exterior minus the union of its holes.
    hole_union = Masks.concatenate([ring_masks[hole_idx], Masks.empty(size, len(parts))]).merge(
        np.concatenate([ring_part[hole_idx], np.arange(len(parts))])
    )
    part_masks = exteriors.difference(hole_union)
    # Per instance: the union of its parts; an empty geometry gives an empty mask.
    return Masks.concatenate([part_masks, Masks.empty(size, len(geoms))]).merge(
        np.concatenate([owner, np.arange(len(geoms))])
    )


def contour_crops(
    coords: NDArray[np.float64],
    offsets: NDArray[np.int64],
    size: tuple[int, int],
    holes: NDArray[np.bool_] | None = None,
) -> Crops:
    """Fill checked polygons with ``cv2.fillPoly`` into crops, one call each.

    Where ``holes`` is true, the ring's outline is cleared again after the
    fill: what is left is the hole's strict inside.
    """
    h, w = size
    n = len(offsets) - 1
    pts = np.floor(coords + 0.5).astype(np.int64)
    boxes = np.zeros((n, 4), np.int64)
    if not n:
        return np.zeros(0, bool), np.zeros(1, np.int64), boxes
    lo = np.minimum.reduceat(pts, offsets[:-1])
    hi = np.maximum.reduceat(pts, offsets[:-1])
    # Crop to the polygon's box cut by the image: a crop edge is then either
    # outside the polygon or the image's own border, where OpenCV clips the
    # same way it does on the full image.
    x0 = np.clip(lo[:, 0], 0, w - 1)
    y0 = np.clip(lo[:, 1], 0, h - 1)
    x1 = np.clip(hi[:, 0], 0, w - 1)
    y1 = np.clip(hi[:, 1], 0, h - 1)
    outside = (hi[:, 0] < 0) | (hi[:, 1] < 0) | (lo[:, 0] >= w) | (lo[:, 1] >= h)
    clipped = (lo[:, 0] < 0) | (lo[:, 1] < 0) | (hi[:, 0] >= w) | (hi[:, 1] >= h)
    parts: list[NDArray[np.bool_]] = []
    for i in np.flatnonzero(~outside).tolist():
        canvas = np.zeros((int(y1[i] - y0[i] + 1), int(x1[i] - x0[i] + 1)), np.uint8)
        local = (pts[offsets[i] : offsets[i + 1]] - (x0[i], y0[i])).astype(np.int32)
        cv2.fillPoly(canvas, [local], 1)
        box = (int(x0[i]), int(y0[i]), canvas.shape[1], canvas.shape[0])
        is_hole = holes is not None and holes[i]
        if is_hole:
            cv2.polylines(canvas, [local], True, 0, 1, cv2.LINE_8)
        if clipped[i] or is_hole:
            canvas, box = _tighten(canvas, box)
        boxes[i] = box
        parts.append(canvas.T.astype(bool).ravel())
    data = np.concatenate(parts) if parts else np.zeros(0, bool)
    return data, offsets_from_lengths(boxes[:, 2] * boxes[:, 3]), boxes


def _tighten(
    canvas: NDArray[np.uint8], box: tuple[int, int, int, int]
) -> tuple[NDArray[np.uint8], tuple[int, int, int, int]]:
    rows = np.flatnonzero(canvas.any(axis=1))
    if not rows.size:
        return canvas[:0, :0], (0, 0, 0, 0)
    cols = np.flatnonzero(canvas.any(axis=0))
    r0, r1, c0, c1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    return canvas[r0:r1, c0:c1], (box[0] + c0, box[1] + r0, c1 - c0, r1 - r0)


def coco_strings(coords: NDArray[np.float64], offsets: NDArray[np.int64], size: tuple[int, int]) -> list[str]:
    """Compressed COCO counts of each polygon under pycocotools' rule.

    Polygons near the image go through pycocotools' own C ``rleFrPoly`` (its
    cost, 5 steps per pixel of perimeter, is then bounded by the image); the
    others through :func:`_coco_port`, whose cost is bounded by the image
    whatever the coordinates.
    """
    h, w = size
    n = len(offsets) - 1
    if not n:
        return []
    lo = np.minimum.reduceat(coords, offsets[:-1])
    hi = np.maximum.reduceat(coords, offsets[:-1])
    near = np.all((lo >= (-w, -h)) & (hi <= (2 * w, 2 * h)), axis=1)
    out: list[str] = [""] * n
    idx = np.flatnonzero(near).tolist()
    if idx:
        flat = [coords[offsets[i] : offsets[i + 1]].ravel() for i in idx]
        for i, rle in zip(idx, _pycocotools_mask.frPoly(flat, h, w), strict=True):
            out[i] = rle["counts"].decode("ascii")
    far = np.flatnonzero(~near)
    if far.size:
        lengths = np.diff(offsets)[far]
        runs = _coco_port(coords[concat_ranges(offsets[far], lengths)], offsets_from_lengths(lengths), size)
        for i, text in zip(far.tolist(), counts_to_strings(*runs), strict=True):
            out[i] = text
    return out


def _coco_port(
    coords: NDArray[np.float64], offsets: NDArray[np.int64], size: tuple[int, int]
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """pycocotools' ``rleFrPoly`` for many polygons at once, bounded by the image.

    pycocotools walks each edge in steps of 1/5 px, then keeps the points where
    the walk crosses a column's centre line (x = k + 1/2 on the 1/5 grid, that
    is walk x = 5k + 2 to 5k + 3) inside the image, with the row of the pixel
    centre at or below the edge, clamped to ``[0, h]``; each column is then
    filled between consecutive crossings (even-odd). Here the crossings are
    computed directly, column by column, with the same float64 arithmetic,
    so the result is identical and the work is bounded by the image width.
    """
    h, w = size
    n = len(offsets) - 1
    # (int)(5 * v + .5): truncation toward zero, as C does.
    xy = np.trunc(5.0 * coords + 0.5).astype(np.int64)
    nxt = np.arange(1, len(xy) + 1)
    if n:
        nxt[offsets[1:] - 1] = offsets[:-1]
    xs, ys = xy[:, 0], xy[:, 1]
    xe, ye = xy[nxt, 0], xy[nxt, 1]
    dx, dy = np.abs(xe - xs), np.abs(ye - ys)
    shallow = dx >= dy
    flip = (shallow & (xs > xe)) | (~shallow & (ys > ye))
    xs, xe = np.where(flip, xe, xs), np.where(flip, xs, xe)
    ys, ye = np.where(flip, ye, ys), np.where(flip, ys, ye)
    lo, hi = np.minimum(xs, xe), np.maximum(xs, xe)
    # Columns k whose centre line (walk x from m = 5k + 2 to m + 1) the edge crosses.
    kmin = np.maximum(-((2 - lo) // 5), 0)
    kmax = np.minimum((hi - 3) // 5, w - 1)
    ncross = np.maximum(kmax - kmin + 1, 0)
    edge = np.repeat(np.arange(len(xy)), ncross)
    k = np.repeat(kmin, ncross) + local_index(offsets_from_lengths(ncross))
    m = 5 * k + 2
    sh = shallow[edge]
    exs, eys, exe, eye = xs[edge], ys[edge], xe[edge], ye[edge]
    edx, edy = dx[edge], dy[edge]
    vmin = np.empty(len(edge), np.int64)
    # Shallow edges: walk x steps by one; rows at walk x = m and m + 1.
    a = np.flatnonzero(sh)
    if a.size:
        s = (eye[a] - eys[a]).astype(np.float64) / edx[a]
        t1 = (m[a] - exs[a]).astype(np.float64)
        v1 = np.trunc(eys[a] + s * t1 + 0.5)
        v2 = np.trunc(eys[a] + s * (t1 + 1.0) + 0.5)
        vmin[a] = np.minimum(v1, v2).astype(np.int64)
    # Steep edges: walk y steps by one; find the first step past the crossing.
    b = np.flatnonzero(~sh)
    if b.size:
        vmin[b] = _steep_rows(exs[b], eys[b], exe[b], edy[b], m[b])
    yd = np.ceil(np.clip((vmin.astype(np.float64) + 0.5) / 5.0 - 0.5, 0, h)).astype(np.int64)
    poly = item_ids(offsets)[edge] if n else edge
    pos = k * h + yd
    order = np.lexsort((pos, poly))
    return toggles_to_counts(pos[order], poly[order], n, size)


def _steep_rows(
    xs: NDArray[np.int64],
    ys: NDArray[np.int64],
    xe: NDArray[np.int64],
    dy: NDArray[np.int64],
    m: NDArray[np.int64],
) -> NDArray[np.int64]:
    """Walk row before the step where x goes between m and m + 1, exactly."""
    s = (xe - xs).astype(np.float64) / dy
    up = s > 0
    guess = (m + 0.5 - xs) / s
    first = np.where(up, np.ceil(guess), np.floor(guess) + 1).astype(np.int64)
    # The float guess may be off by one either way: test the exact C formula
    # on a few steps around it and take the first that is past the crossing.
    cand = first[:, None] + np.arange(-2, 3)
    cand = np.clip(cand, 1, dy[:, None])
    u = np.trunc(xs[:, None] + s[:, None] * cand + 0.5)
    past = np.where(up[:, None], u >= (m + 1)[:, None], u <= m[:, None])
    t = np.where(past, cand, np.iinfo(np.int64).max).min(axis=1)
    rows: NDArray[np.int64] = ys + t - 1
    return rows
