"""A COCO dataset (instances or results) as columns: what the evaluation engine reads.

Two readers give these, with the same checks and the same answers: one from
a file's bytes, streamed (the kernel reads it a bounded span at a time), and
one from objects already in memory (a dict of an instances file, a results
list, ``(file_name, Predictions)`` pairs). Nothing is decoded here: polygons
stay vertices, RLE strings stay strings; the engine decodes an image's
masks when it evaluates that image.

Every array is read-only and of the dtype named; items keep the order of
the file (``annotations[k]`` is row ``k``), so a message can name the
item by its index in the file.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "POLYGONS",
    "RLE_COUNTS",
    "RLE_STRING",
    "SEGMENTATION_NONE",
    "Annotations",
    "Categories",
    "Dataset",
    "Images",
    "Results",
    "Segmentations",
]

#: ``Segmentations.kind``: no segmentation (missing, null or ``[]``).
SEGMENTATION_NONE = 0
#: ``Segmentations.kind``: a list of polygons (flat ``[x0, y0, x1, y1, ...]`` lists).
POLYGONS = 1
#: ``Segmentations.kind``: an RLE whose ``counts`` is a compressed COCO string.
RLE_STRING = 2
#: ``Segmentations.kind``: an RLE whose ``counts`` is a list of run lengths (uncompressed).
RLE_COUNTS = 3


class Segmentations(NamedTuple):
    """The segmentations of N items (annotations or results), as written.

    Attributes
    ----------
    kind : (N,) uint8
        :data:`SEGMENTATION_NONE`, :data:`POLYGONS`, :data:`RLE_STRING` or :data:`RLE_COUNTS`.
    size : (N, 2) int64
        ``[height, width]`` of an RLE; ``-1`` for the other kinds.
    coords : (P,) float64
        The numbers of every polygon, flat ``x0, y0, x1, y1, ...``, item after item.
    ring_offsets : (R + 1,) int64
        Ring ``r`` is ``coords[ring_offsets[r]:ring_offsets[r + 1]]`` (an even count, 6 or more).
    rings : (N + 1,) int64
        Item ``i`` owns rings ``rings[i]:rings[i + 1]`` (none unless its kind is POLYGONS).
    strings : bytes
        Every compressed ``counts`` string, concatenated (ASCII, JSON escapes undone).
    string_offsets : (N + 1,) int64
        Item ``i``'s string is ``strings[string_offsets[i]:string_offsets[i + 1]]``.
    counts : (C,) uint32
        Every uncompressed ``counts`` list, concatenated.
    count_offsets : (N + 1,) int64
        Item ``i``'s runs are ``counts[count_offsets[i]:count_offsets[i + 1]]``.
    """

    kind: NDArray[np.uint8]
    size: NDArray[np.int64]
    coords: NDArray[np.float64]
    ring_offsets: NDArray[np.int64]
    rings: NDArray[np.int64]
    strings: bytes
    string_offsets: NDArray[np.int64]
    counts: NDArray[np.uint32]
    count_offsets: NDArray[np.int64]


class Images(NamedTuple):
    """The ``images`` of an instances file (I of them).

    ``neg_category_ids`` and ``not_exhaustive_category_ids`` are LVIS's
    per-image lists, ragged: image ``i``'s are ``values[offsets[i]:offsets[i + 1]]``
    (empty where the file has none).
    """

    id: NDArray[np.int64]
    height: NDArray[np.int64]
    width: NDArray[np.int64]
    file_name: list[str]
    neg_category_ids: tuple[NDArray[np.int64], NDArray[np.int64]]
    not_exhaustive_category_ids: tuple[NDArray[np.int64], NDArray[np.int64]]


class Categories(NamedTuple):
    """The ``categories`` (K of them); ``frequency`` is LVIS's ``"r"``, ``"c"`` or ``"f"``, ``""`` where absent."""

    id: NDArray[np.int64]
    name: list[str]
    frequency: list[str]


class Annotations(NamedTuple):
    """The ``annotations`` of an instances file (A of them), in file order.

    ``bbox`` is ``[x, y, width, height]``, NaN where absent; ``area`` as
    written, NaN where absent; ``iscrowd`` 0 or 1 (0 where absent).
    """

    id: NDArray[np.int64]
    image_id: NDArray[np.int64]
    category_id: NDArray[np.int64]
    bbox: NDArray[np.float64]
    area: NDArray[np.float64]
    iscrowd: NDArray[np.uint8]
    segmentation: Segmentations


class Dataset(NamedTuple):
    """An instances file (ground truth): its images, categories and annotations.

    ``source`` names where it came from, for messages (a path, or
    ``"ground_truth"`` for an object in memory).
    """

    images: Images
    categories: Categories
    annotations: Annotations
    source: str


class Results(NamedTuple):
    """A results list (N detections), in file order.

    ``bbox`` NaN where absent; ``segmentation`` as for annotations. ``source``
    as for :class:`Dataset`.
    """

    image_id: NDArray[np.int64]
    category_id: NDArray[np.int64]
    score: NDArray[np.float64]
    bbox: NDArray[np.float64]
    segmentation: Segmentations
    source: str
