"""COCO in and out: instances files, results lists, and polygons that stay exact.

:func:`to_coco` writes a COCO instances dict; :func:`to_coco_results` the
results list that ``COCO.loadRes`` takes; :func:`from_coco` reads an
instances file back into one :class:`~segmask.Predictions` per image.

The polygon trap. pycocotools fills a COCO polygon by its own rule (pixel
``j`` spans ``[j, j + 1)``, pixel centres inside), so a contour polygon
written as it came (through boundary-pixel centres) loses about half of its
boundary pixels. :func:`coco_polygons` writes instead the outline of the
pixels themselves: the contour moved to COCO coordinates (+0.5) and grown
half a pixel outward (a mitred buffer of the polygon, joined with a band of
half a pixel around its ring, which keeps one-pixel spurs and diagonal
steps), then checks each against pycocotools. A mask it cannot write
exactly (one with holes or several parts, which COCO polygons cannot hold
without changing pixels, or one that fails the check) is written as RLE.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import shapely
from pycocotools import _mask as _pycocotools_mask

from . import _validate
from ._contours import flat_rings, trace
from ._io import atomic_write
from .errors import InputError, ResponseFormatError
from .geometry import polygons_from_rings
from .masks import Masks
from .postprocess import masks_to_polygons
from .predictions import Predictions
from .raster import Rule

__all__ = [
    "coco_annotations",
    "coco_polygons",
    "coco_results",
    "from_coco",
    "from_png",
    "from_yolo",
    "png_labels",
    "to_coco",
    "to_coco_results",
    "to_png",
    "to_yolo",
    "yolo_labels",
]

Item = tuple[str, Predictions]


def coco_polygons(masks: Masks) -> list[list[list[float]] | None]:
    """Per mask, COCO polygons that pycocotools fills to exactly its pixels, or None.

    None where no single polygon does: a mask with holes or several parts,
    an empty mask, or one whose polygon fails the check against pycocotools.
    Each mask is traced once with ``cv2.findContours``; only one-ring masks
    go on to shapely.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((1, 5, 5), bool); m[0, 1:3, 1:4] = True
    >>> coco_polygons(Masks.from_dense(m))
    [[[1.0, 1.0, 1.0, 3.0, 4.0, 3.0, 4.0, 1.0]]]
    """
    out: list[list[list[float]] | None] = [None] * len(masks)
    single, rings = [], []
    for i, traced, _ in trace(masks):
        # One ring, no hole, no second part: else no single polygon holds the mask.
        if len(traced) == 1:
            rings.append(traced[0])
            single.append(i)
    if not single:
        return out
    polys = polygons_from_rings(*flat_rings(rings))
    grown = _pixel_outlines(polys)
    h, w = masks.image_size
    candidates: dict[int, list[float]] = {}
    for i, g in zip(single, grown.tolist(), strict=True):
        if g.geom_type == "Polygon" and not g.interiors:
            candidates[i] = np.asarray(g.exterior.coords)[:-1].ravel().tolist()
    if not candidates:
        return out
    idx = list(candidates)
    made = _pycocotools_mask.frPoly([np.array(candidates[i]) for i in idx], h, w)
    wanted = masks[np.array(idx)].to_rle()
    for i, rle, want in zip(idx, made, wanted, strict=True):
        if rle["counts"].decode("ascii") == want["counts"]:
            out[i] = [candidates[i]]
    return out


def _categories(
    items: Sequence[Item], categories: Sequence[str] | Sequence[Mapping[str, Any]] | None
) -> list[dict[str, Any]]:
    if categories is None:
        names = sorted({str(n) for _, preds in items for n in preds.class_name.tolist()})
        return [{"id": k + 1, "name": n, "supercategory": ""} for k, n in enumerate(names)]
    out = []
    for k, c in enumerate(categories):
        if isinstance(c, str):
            out.append({"id": k + 1, "name": c, "supercategory": ""})
        elif isinstance(c, Mapping) and "id" in c and "name" in c:
            out.append(dict(c))
        else:
            raise InputError(f"categories[{k}] must be a class name or a COCO category dict, got {c!r}")
    return out


def _name_to_id(categories: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    return {str(c["name"]): int(c["id"]) for c in categories}


def _items(items: Iterable[Item]) -> list[Item]:
    out = list(items)
    for k, item in enumerate(out):
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Predictions)):
            raise InputError(f"items[{k}] must be a (file_name, Predictions) pair, got {type(item).__name__}")
    return out


def _box_xywh(boxes: np.ndarray) -> list[list[float]]:
    return [[float(v) for v in b] for b in boxes]


def coco_annotations(
    preds: Predictions, rule: Rule | None = None, segmentation: str = "polygon"
) -> tuple[list[dict[str, Any]], int]:
    """One image's COCO annotations, with the class ``category`` name (ids come later), and how
    many predictions had no mask (they are not written)."""
    keep = preds.has_mask
    chosen = preds[keep]
    masks = chosen.masks(rule=rule)
    rles = masks.to_rle()
    polys = coco_polygons(masks) if segmentation == "polygon" else [None] * len(masks)
    annotations = [
        {"category": name, "segmentation": poly if poly is not None else rle, "area": int(area),
         "bbox": [float(v) for v in box], "iscrowd": 0}
        for name, area, box, rle, poly in zip(
            chosen.class_name.tolist(), masks.area.tolist(), masks.boxes, rles, polys, strict=True
        )
    ]  # fmt: skip
    return annotations, int((~keep).sum())


def to_coco(
    items: Iterable[Item],
    categories: Sequence[str] | Sequence[Mapping[str, Any]] | None = None,
    segmentation: str = "polygon",
    rule: Rule | None = None,
) -> dict[str, Any]:
    """A COCO instances dict from ``(file_name, Predictions)`` pairs.

    Parameters
    ----------
    items : iterable of (file_name, Predictions)
        Each needs its image size (from the response, or set by the caller).
    categories : class names or COCO category dicts, optional
        Default: the class names found, sorted, with ids 1, 2, ...
    segmentation : {"polygon", "rle"}
        ``"rle"``: every mask as RLE, exact to the pixel. ``"polygon"``:
        polygons that pycocotools fills to exactly the mask's pixels (see
        :func:`coco_polygons`), RLE for the masks no polygon can hold.
    rule : {"contour", "coco"}, optional
        How polygons in the predictions are filled; default each one's own
        (``"contour"`` for API responses, ``"coco"`` for :func:`from_coco`).

    Returns
    -------
    dict
        ``images``, ``annotations`` (``area`` the mask's pixel count as an
        int, ``bbox`` the box of its pixels, ``iscrowd`` 0), ``categories``.
        Predictions without a mask are not written; ``info["segmask"]``
        counts them, and the polygons and RLEs written.
    """
    pairs = _items(items)
    mode = _validate.choice("segmentation", segmentation, ("polygon", "rle"))
    cats = _categories(pairs, categories)
    ids = _name_to_id(cats)
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    skipped = 0
    for k, (file_name, preds) in enumerate(pairs):
        if preds.image_size is None:
            raise InputError(f"items[{k}] ({file_name!r}) has no image size: set it before exporting")
        h, w = preds.image_size
        image_id = k + 1
        images.append({"id": image_id, "file_name": str(file_name), "height": h, "width": w})
        written, without = coco_annotations(preds, rule, mode)
        skipped += without
        for ann in written:
            name = ann.pop("category")
            if name not in ids:
                raise InputError(f"items[{k}] ({file_name!r}) has class {name!r}, which is not in categories")
            annotations.append({"id": len(annotations) + 1, "image_id": image_id, "category_id": ids[name], **ann})
    polygons_written = sum(isinstance(a["segmentation"], list) for a in annotations)
    rles_written = len(annotations) - polygons_written
    info = {"segmask": {"polygons": polygons_written, "rles": rles_written, "without_mask": skipped}}
    return {"info": info, "images": images, "annotations": annotations, "categories": cats}


def to_coco_results(
    items: Iterable[Item],
    image_ids: Mapping[str, int] | Sequence[int],
    categories: Mapping[str, int] | Sequence[Mapping[str, Any]],
    rule: Rule | None = None,
) -> list[dict[str, Any]]:
    """The COCO results list (what ``COCO.loadRes`` takes) for predictions with masks.

    Parameters
    ----------
    items : iterable of (file_name, Predictions)
    image_ids : mapping file_name -> image id, or one id per item
        The ids of the ground truth's images.
    categories : mapping class name -> category id, or the ground truth's COCO categories
    rule : see :func:`to_coco`

    Returns
    -------
    list of dict
        ``image_id``, ``category_id``, ``segmentation`` (RLE, exact),
        ``bbox`` (of the pixels) and ``score`` per prediction with a mask.
    """
    pairs = _items(items)
    ids = dict(categories) if isinstance(categories, Mapping) else _name_to_id(categories)
    if not isinstance(image_ids, Mapping) and len(image_ids) != len(pairs):
        raise InputError(f"image_ids has {len(image_ids)} ids for {len(pairs)} items")
    out = []
    for k, (file_name, preds) in enumerate(pairs):
        if isinstance(image_ids, Mapping):
            if file_name not in image_ids:
                raise InputError(f"items[{k}]: {file_name!r} is not an image of the ground truth")
            image_id = image_ids[file_name]
        else:
            image_id = image_ids[k]
        try:
            out.extend(coco_results(preds, int(image_id), ids, rule))
        except InputError as exc:
            raise InputError(f"items[{k}] ({file_name!r}) {exc}") from None
    return out


def coco_results(
    preds: Predictions, image_id: int, categories: Mapping[str, int], rule: Rule | None = None
) -> list[dict[str, Any]]:
    """One image's entries of a COCO results list (predictions with a mask)."""
    keep = np.flatnonzero(preds.has_mask)
    if not keep.size:
        return []
    if preds.image_size is None:
        raise InputError("has no image size: set it before exporting")
    chosen = preds[keep]
    masks = chosen.masks(rule=rule)
    out = []
    for name, score, box, rle in zip(
        chosen.class_name.tolist(), chosen.confidence.tolist(), _box_xywh(masks.boxes), masks.to_rle(), strict=True
    ):
        if name not in categories:
            raise InputError(f"has class {name!r}, which the ground truth does not have")
        out.append({"image_id": image_id, "category_id": int(categories[name]), "segmentation": rle,
                    "bbox": box, "score": float(score)})  # fmt: skip
    return out


def from_coco(source: str | os.PathLike[str] | Mapping[str, Any]) -> list[Item]:
    """Read a COCO instances file (or dict) into one ``(file_name, Predictions)`` per image.

    Polygons (one or several per annotation) become shapely polygons filled by
    pycocotools' rule (the Predictions' default ``rule`` is ``"coco"``), RLE
    and crowd annotations keep their exact pixels (``iscrowd``, ``area`` and
    ``id`` stay in each prediction's extra fields), a bbox-only annotation
    (``segmentation: []``) keeps its box and has no mask. Confidences are 1.

    Raises
    ------
    ResponseFormatError
        Naming the annotation and what is wrong with it.
    """
    data = json.loads(Path(source).read_bytes()) if isinstance(source, str | os.PathLike) else source
    if not isinstance(data, Mapping) or not isinstance(data.get("images"), list):
        raise ResponseFormatError("a COCO file needs an 'images' list")
    names = {c["id"]: str(c["name"]) for c in data.get("categories", [])}
    by_image: dict[Any, list[tuple[int, Mapping[str, Any]]]] = {im["id"]: [] for im in data["images"]}
    for k, ann in enumerate(data.get("annotations", [])):
        if ann.get("image_id") not in by_image:
            raise ResponseFormatError(f"annotations[{k}].image_id {ann.get('image_id')!r} is not an image of the file")
        by_image[ann["image_id"]].append((k, ann))
    out: list[Item] = []
    for image in data["images"]:
        h, w = int(image["height"]), int(image["width"])
        predictions = [_prediction(k, ann, names, (h, w)) for k, ann in by_image[image["id"]]]
        response = {"predictions": predictions, "image": {"width": w, "height": h}}
        preds = Predictions._parse(response, "")
        shapes = tuple(_shape(k, ann) for k, ann in by_image[image["id"]])
        out.append((str(image["file_name"]), _with_shapes(preds, shapes)))
    return out


def _prediction(k: int, ann: Mapping[str, Any], names: Mapping[Any, str], size: tuple[int, int]) -> dict[str, Any]:
    where = f"annotations[{k}]"
    bbox = ann.get("bbox")
    if not (isinstance(bbox, list) and len(bbox) == 4):
        raise ResponseFormatError(f"{where}.bbox is {bbox!r}, expected [x, y, w, h]")
    if ann.get("category_id") not in names:
        raise ResponseFormatError(f"{where}.category_id {ann.get('category_id')!r} is not in categories")
    x, y, bw, bh = (float(v) for v in bbox)
    p: dict[str, Any] = {"x": x + bw / 2, "y": y + bh / 2, "width": bw, "height": bh, "confidence": 1.0,
                         "class": names[ann["category_id"]], "class_id": int(ann["category_id"]),
                         "detection_id": str(ann.get("id", k)),
                         "iscrowd": int(ann.get("iscrowd", 0)), "area": ann.get("area")}  # fmt: skip
    seg = ann.get("segmentation")
    if isinstance(seg, Mapping):
        rle = dict(seg)
        if list(rle.get("size", [])) != [size[0], size[1]]:
            raise ResponseFormatError(f"{where}.segmentation.size is {rle.get('size')!r}, the image is {list(size)}")
        p["rle"] = rle
    return p


def _shape(k: int, ann: Mapping[str, Any]) -> Any:
    """A COCO polygon list -> a shapely (Multi)Polygon; None for RLE or no segmentation."""
    seg = ann.get("segmentation")
    if not isinstance(seg, list) or not seg:
        return None
    rings = []
    for j, flat in enumerate(seg):
        coords = np.asarray(flat, dtype=np.float64)
        if coords.ndim != 1 or coords.size % 2 or coords.size < 6 or not np.isfinite(coords).all():
            raise ResponseFormatError(
                f"annotations[{k}].segmentation[{j}] must be a flat list of 3 or more x, y pairs, "
                f"got {coords.size} numbers (pycocotools would read 4 as a box)"
            )
        rings.append(shapely.Polygon(coords.reshape(-1, 2)))
    return rings[0] if len(rings) == 1 else shapely.MultiPolygon(rings)


def _with_shapes(preds: Predictions, shapes: tuple[Any, ...]) -> Predictions:
    return dataclasses.replace(preds, _polygons=shapes, rule="coco")


# --- YOLO segmentation labels ---------------------------------------------------------------


def to_yolo(
    items: Iterable[Item],
    out_dir: str | os.PathLike[str],
    categories: Sequence[str] | None = None,
    rule: Rule | None = None,
) -> dict[str, Any]:
    """Write YOLO segmentation labels: one ``<stem>.txt`` per image and ``classes.txt``.

    Each line is ``class x1 y1 x2 y2 ...``, coordinates divided by the image's
    width and height, in COCO's continuous coordinates. Each mask is written
    as the polygon that pycocotools' rule (which is also how YOLO tools fill
    these polygons) turns back into exactly its pixels. A YOLO line holds one
    ring, so a mask with holes or several parts is written as the outline of
    its largest part: the report counts those as ``approximate``.

    Returns
    -------
    dict
        ``files``, ``exact``, ``approximate``, ``without_mask`` and ``names``
        (the class of each id).
    """
    pairs = _items(items)
    names = [c["name"] for c in _categories(pairs, categories)]
    ids = {n: k for k, n in enumerate(names)}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    totals = np.zeros(3, dtype=np.int64)
    for k, (file_name, preds) in enumerate(pairs):
        try:
            text, counts = yolo_labels(preds, ids, rule)
        except InputError as exc:
            raise InputError(f"items[{k}] ({file_name!r}) {exc}") from None
        atomic_write(out / f"{Path(file_name).stem}.txt", text.encode())
        totals += counts
    atomic_write(out / "classes.txt", ("\n".join(names) + "\n").encode())
    exact, approximate, without = (int(v) for v in totals)
    return {"files": len(pairs), "exact": exact, "approximate": approximate, "without_mask": without, "names": names}


def yolo_labels(
    preds: Predictions, ids: Mapping[str, int], rule: Rule | None = None
) -> tuple[str, tuple[int, int, int]]:
    """One image's YOLO label text, and its counts of (exact, approximate, without mask)."""
    if preds.image_size is None:
        raise InputError("has no image size: set it before exporting")
    h, w = preds.image_size
    keep = np.flatnonzero(preds.has_mask)
    exact = approximate = 0
    lines = []
    if keep.size:
        chosen = preds[keep]
        masks = chosen.masks(rule=rule)
        polys = coco_polygons(masks)
        for j, name in enumerate(chosen.class_name.tolist()):
            if name not in ids:
                raise InputError(f"has class {name!r}, which is not in categories")
            poly = polys[j]
            flat = poly[0] if poly is not None else _largest_outline(masks[j])
            if flat is None:
                continue
            exact += poly is not None
            approximate += poly is None
            xy = np.asarray(flat, dtype=np.float64).reshape(-1, 2) / (w, h)
            lines.append(f"{ids[name]} " + " ".join(f"{v:.6f}" for v in xy.ravel()))
    text = "\n".join(lines) + ("\n" if lines else "")
    return text, (exact, approximate, len(preds) - len(keep))


def _pixel_outlines(contours: np.ndarray) -> np.ndarray:
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


def _largest_outline(mask: Masks) -> list[float] | None:
    """The pixel outline of a mask's largest part (COCO coordinates), holes ignored."""
    [parts] = masks_to_polygons(mask)
    if not parts:
        return None
    part = max(parts, key=lambda p: p.area)
    [grown] = _pixel_outlines(np.array([shapely.Polygon(part.exterior)], dtype=object))
    biggest = max(shapely.get_parts(grown), key=lambda g: g.area)
    return np.asarray(biggest.exterior.coords)[:-1].ravel().tolist()


def from_yolo(
    source: str | os.PathLike[str], image_size: tuple[int, int], names: Sequence[str] | None = None
) -> Predictions:
    """Read one YOLO segmentation label file into Predictions (filled by pycocotools' rule).

    A line with an odd number of values after the class carries a confidence
    last (as YOLO tools write predictions); otherwise the confidence is 1.

    Raises
    ------
    ResponseFormatError
        Naming the file and line.
    """
    h, w = _validate.image_size(image_size)
    path = Path(source)
    predictions = []
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path.name} line {line_no}"
        try:
            values = [float(v) for v in line.split()]
        except ValueError:
            raise ResponseFormatError(f"{where}: expected numbers, got {line[:40]!r}") from None
        cls, rest = values[0], values[1:]
        if cls != int(cls) or cls < 0:
            raise ResponseFormatError(f"{where}: the class {cls:g} is not a non-negative integer")
        conf = 1.0
        if len(rest) % 2:
            conf, rest = rest[-1], rest[:-1]
        if len(rest) < 6:
            raise ResponseFormatError(f"{where}: a polygon needs 3 or more x, y pairs, got {len(rest) // 2}")
        xy = np.array(rest).reshape(-1, 2) * (w, h)
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        name = names[int(cls)] if names is not None and int(cls) < len(names) else str(int(cls))
        predictions.append({"x": float(lo[0] + hi[0]) / 2, "y": float(lo[1] + hi[1]) / 2,
                            "width": float(hi[0] - lo[0]), "height": float(hi[1] - lo[1]),
                            "confidence": conf, "class": name, "class_id": int(cls),
                            "points": [{"x": float(x), "y": float(y)} for x, y in xy]})  # fmt: skip
    preds = Predictions._parse({"predictions": predictions, "image": {"width": w, "height": h}}, f"{path.name}: ")
    return dataclasses.replace(preds, rule="coco")


# --- instance-id PNG masks -------------------------------------------------------------------


def to_png(items: Iterable[Item], out_dir: str | os.PathLike[str], rule: Rule | None = None) -> dict[str, Any]:
    """Write one instance-id PNG per image: prediction ``i`` has value ``i + 1``, 0 is background.

    8-bit, or 16-bit for more than 255 instances. Where masks overlap the
    later prediction wins; the report counts the pixels that were overwritten.
    """
    pairs = _items(items)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    overwritten = 0
    for k, (file_name, preds) in enumerate(pairs):
        try:
            png, lost = png_labels(preds, rule)
        except InputError as exc:
            raise InputError(f"items[{k}] ({file_name!r}) {exc}") from None
        overwritten += lost
        atomic_write(out / f"{Path(file_name).stem}.png", png)
    return {"files": len(pairs), "overwritten_pixels": overwritten}


def png_labels(preds: Predictions, rule: Rule | None = None) -> tuple[bytes, int]:
    """One image's instance-id PNG, and the pixels overwritten where masks overlap."""
    if preds.image_size is None:
        raise InputError("has no image size: set it before exporting")
    labels, lost = preds.masks(rule=rule).to_labels()
    _, png = cv2.imencode(".png", labels)
    return png.tobytes(), lost


def from_png(source: str | os.PathLike[str]) -> tuple[Masks, np.ndarray]:
    """Read an instance-id PNG: one mask per id present, and the ids (see :meth:`Masks.from_labels`)."""
    data = np.frombuffer(Path(source).read_bytes(), np.uint8)
    labels = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if labels is None or labels.ndim != 2:
        raise InputError(f"{os.fspath(source)} is not a one-channel PNG of instance ids")
    return Masks.from_labels(labels)
