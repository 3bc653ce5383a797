"""Masks back to polygons: traced with OpenCV, exact under either rule.

* :func:`masks_to_polygons` traces each mask with ``cv2.findContours``
  (``RETR_CCOMP``: outer boundaries and their holes; islands inside holes
  are parts of their own) into shapely polygons through the centres of the
  boundary pixels. Rasterized again under the contour rule they give back
  the same pixels, holes included.
* :func:`coco_polygons` gives, per mask, the COCO polygon that pycocotools
  fills to exactly its pixels (or None where no single polygon does).

The polygon trap: pycocotools fills a COCO polygon by its own rule (pixel
``j`` spans ``[j, j + 1)``, pixel centres inside), so a contour written as
it came (through boundary-pixel centres) loses about half of its boundary
pixels. :func:`coco_polygons` writes instead the outline of the pixels
themselves: the contour moved to COCO coordinates (+0.5) and grown half a
pixel outward (a mitred buffer of the polygon, joined with a band of half a
pixel around its ring, which keeps one-pixel spurs and diagonal steps), and
checks each against the mask.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import cv2
import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

from . import _kernel, _ragged, _validate
from .geometry import polygons_from_rings
from .masks import RLE, Masks, as_masks

__all__ = ["coco_polygons", "largest_outline", "masks_to_polygons", "trace"]


def trace(ms: Masks) -> Iterator[tuple[int, NDArray[np.float64], NDArray[np.int64], NDArray[np.intc]]]:
    """Each non-empty mask traced with ``cv2.findContours(RETR_CCOMP)``.

    Yields its index, its rings in image coordinates as one ``(P, 2)`` array
    with ``(R + 1,)`` offsets (ring ``r`` is ``coords[offsets[r]:offsets[r + 1]]``;
    a 1- or 2-point ring, a speck or a straight line, is repeated to 3 points
    so that no pixel is lost) and OpenCV's hierarchy rows ``[next, previous,
    first child, parent]``.
    """
    for i, (pixels, (x, y)) in enumerate(ms.iter_crops()):
        if not pixels.size:
            continue
        # A zero border, as findContours treats the edge as background anyway;
        # the corner, less that border, takes crop coordinates to the image's.
        padded = np.zeros((pixels.shape[0] + 2, pixels.shape[1] + 2), np.uint8)
        padded[1:-1, 1:-1] = pixels
        contours, hierarchy = cv2.findContours(padded, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        lengths = np.fromiter(map(len, contours), np.int64, len(contours))
        coords = np.concatenate(contours).reshape(-1, 2).astype(np.float64)
        coords += (x - 1, y - 1)
        if lengths.min() < 3:
            coords, lengths = _three_or_more(coords, lengths)
        offsets = _ragged.offsets(lengths)
        yield i, coords, offsets, hierarchy[0]


def _three_or_more(
    coords: NDArray[np.float64], lengths: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Rings of 1 or 2 points repeated cyclically to 3 points; the others as they are."""
    starts = np.cumsum(lengths) - lengths
    target = np.maximum(lengths, 3)
    ring = np.repeat(np.arange(len(lengths)), target)
    step = np.arange(len(ring)) - np.repeat(np.cumsum(target) - target, target)
    return coords[starts[ring] + step % lengths[ring]], target


def _flat_rings(rings: list[NDArray[np.float64]]) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    offsets = _ragged.offsets([len(r) for r in rings])
    return np.concatenate(rings), offsets


def masks_to_polygons(
    masks: Masks | Sequence[RLE] | ArrayLike, *, tolerance: float | None = None
) -> list[list[shapely.Polygon]]:
    """Trace each mask into shapely polygons with holes.

    Parameters
    ----------
    masks : Masks, list of RLE dicts or dense (N, H, W) array
    tolerance : float, optional
        Simplify with this tolerance in pixels, keeping topology
        (``shapely.simplify``). Without it the polygons give back the mask's
        exact pixels under the contour rule.

    Returns
    -------
    list of list of shapely.Polygon
        Per mask its parts, each an exterior through the centres of its
        boundary pixels and one interior per hole (through the pixels around
        the hole), as ``cv2.findContours`` traces them. A part of one or two
        pixels in a row gives a polygon with no area (the points repeated),
        so that no pixel is lost.

    See Also
    --------
    rasterize : the other way (``rule="contour"``).
    coco_polygons : polygons for COCO files, exact under pycocotools' rule.

    Examples
    --------
    >>> ring = np.ones((1, 5, 5), bool); ring[0, 2, 2] = False
    >>> [p.wkt for p in masks_to_polygons(ring)[0]]
    ['POLYGON ((0 0, 0 4, 4 4, 4 0, 0 0), (1 2, 2 1, 3 2, 2 3, 1 2))']
    """
    ms = as_masks(masks, "masks")
    if tolerance is not None:
        tolerance = _validate.number(tolerance, "tolerance", 0.0)
    if ms is None:
        return []
    rings: list[NDArray[np.float64]] = []
    ring_part: list[int] = []
    part_mask: list[int] = []
    for i, coords, offsets, tree in trace(ms):
        for k in np.flatnonzero(tree[:, 3] == -1).tolist():  # outer boundaries
            part = len(part_mask)
            part_mask.append(i)
            for ring in [k, *_siblings(tree, int(tree[k, 2]))]:
                rings.append(coords[offsets[ring] : offsets[ring + 1]])
                ring_part.append(part)
    out: list[list[shapely.Polygon]] = [[] for _ in range(len(ms))]
    if not rings:
        return out
    polygons = polygons_from_rings(*_flat_rings(rings), np.array(ring_part))
    if tolerance:
        polygons = shapely.simplify(polygons, tolerance, preserve_topology=True)
    for p, i in zip(polygons.tolist(), part_mask, strict=True):
        out[i].append(p)
    return out


def _siblings(tree: NDArray[Any], first: int) -> list[int]:
    out = []
    while first != -1:
        out.append(first)
        first = int(tree[first, 0])
    return out


def coco_polygons(masks: Masks) -> list[list[list[float]] | None]:
    """Per mask, COCO polygons that pycocotools fills to exactly its pixels, or None.

    None where no single polygon does: a mask with holes or several parts,
    an empty mask, or one whose polygon fails the check (each candidate is
    filled under the coco rule and compared with the mask's runs).

    See Also
    --------
    masks_to_polygons : polygons through pixel centres, holes and parts kept.

    Examples
    --------
    >>> m = np.zeros((1, 5, 5), bool); m[0, 1:3, 1:4] = True
    >>> coco_polygons(Masks.from_dense(m))
    [[[1.0, 1.0, 1.0, 3.0, 4.0, 3.0, 4.0, 1.0]]]
    """
    out: list[list[list[float]] | None] = [None] * len(masks)
    single, rings = [], []
    for i, coords, offsets, _ in trace(masks):
        # One ring, no hole, no second part: else no single polygon holds the mask.
        if len(offsets) == 2:
            rings.append(coords)
            single.append(i)
    if not single:
        return out
    h, w = masks.image_size
    # Cut to the image: the mitred corners of pixels on its edge reach out up to 0.75 px, no pixel centre.
    grown = shapely.clip_by_rect(pixel_outlines(polygons_from_rings(*_flat_rings(rings))), 0, 0, w, h)
    candidates: dict[int, NDArray[np.float64]] = {}
    for i, g in zip(single, grown.tolist(), strict=True):
        if g.geom_type == "Polygon" and not g.interiors:
            candidates[i] = np.asarray(g.exterior.coords)[:-1]
    if not candidates:
        return out
    idx = list(candidates)
    coords, offsets = _flat_rings([candidates[i] for i in idx])
    made_counts, made_offsets, _ = _kernel.fill.coco_rule(coords, offsets, h, w)
    want = masks[np.array(idx)].runs
    for j, i in enumerate(idx):
        mine = made_counts[made_offsets[j] : made_offsets[j + 1]]
        theirs = want.counts[want.offsets[j] : want.offsets[j + 1]]
        if np.array_equal(mine, theirs):
            out[i] = [candidates[i].ravel().tolist()]
    return out


def pixel_outlines(contours: NDArray[np.object_]) -> NDArray[np.object_]:
    """Contour polygons (through pixel centres) -> the outlines of their pixels, in COCO coordinates.

    Moved by +0.5 and grown half a pixel outward: a mitred buffer of the
    polygon (the mitre limit keeps sharp corners from reaching a neighbouring
    pixel's centre), united with a half-pixel band around its ring, which keeps
    one-pixel spurs and diagonal steps. Simplifying with tolerance 0 drops only
    the collinear vertices the union leaves.
    """
    moved = shapely.transform(contours, lambda c: c + 0.5)
    body = shapely.buffer(moved, 0.5, join_style="mitre", mitre_limit=1.5)
    band = shapely.buffer(shapely.get_exterior_ring(moved), 0.5, quad_segs=1)
    return np.asarray(shapely.simplify(shapely.union(body, band), 0.0), dtype=object)


def largest_outline(mask: Masks) -> list[float] | None:
    """The pixel outline of a one-mask set's largest part (COCO coordinates), holes ignored."""
    [parts] = masks_to_polygons(mask)
    if not parts:
        return None
    part = max(parts, key=lambda p: p.area)
    h, w = mask.image_size
    [grown] = shapely.clip_by_rect(pixel_outlines(np.array([shapely.Polygon(part.exterior)], dtype=object)), 0, 0, w, h)
    biggest = max(shapely.get_parts(grown), key=lambda g: g.area)
    return list(np.asarray(biggest.exterior.coords)[:-1].ravel().tolist())
