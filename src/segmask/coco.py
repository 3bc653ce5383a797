"""COCO in and out: instances files, results lists, and polygons that stay exact.

* :func:`to_coco` writes an instances file through :class:`CocoWriter`, the
  one streaming writer (the CLI and :mod:`segmask.dask` use it too): images
  and annotations go to spool files in the system's temporary folder as they
  come, categories are fixed at the end, and the file appears whole or not at
  all. Memory stays flat in the number of images.
* :func:`to_coco_results` writes the results list that ``COCO.loadRes`` takes.
* :func:`from_coco` reads an instances file back into ``(file_name,
  Predictions)`` pairs.

Masks are written as polygons that pycocotools fills to exactly their pixels
(:func:`segmask.coco_polygons`), or as RLE where no polygon can (holes,
several parts); ``segmentation="rle"`` writes RLE throughout.
"""

from __future__ import annotations

import datetime
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import numpy as np
import orjson
import shapely

from . import _validate, response
from ._io import atomic_open, remove_stale
from ._version import __version__
from .datasets import Item, WriteReport, check_items
from .errors import InputError, ResponseFormatError
from .predictions import Predictions
from .rules import Rule
from .tracing import coco_polygons

__all__ = [
    "CocoRecord",
    "CocoWriter",
    "coco_record",
    "coco_results",
    "dataset_dict",
    "from_coco",
    "results_list",
    "to_coco",
    "to_coco_results",
]

Categories = Sequence[str] | Sequence[Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class CocoRecord:
    """One image of a COCO file: its entry and its annotations (with ``category`` names; ids come at the end)."""

    file_name: str
    height: int
    width: int
    annotations: list[dict[str, Any]] = field(default_factory=list)
    without_mask: int = 0


def coco_record(file_name: str, preds: Predictions, *, rule: Rule | None = None,
                segmentation: str = "polygon") -> CocoRecord:  # fmt: skip
    """One image's COCO entry and annotations (a pure function: it runs on workers)."""
    if preds.image_size is None:
        raise InputError(f"{file_name!r} has no image size: set it before exporting")
    h, w = preds.image_size
    keep = preds.has_mask
    chosen = preds[keep]
    masks = chosen.masks(rule=rule)
    rles = masks.to_rle()
    polys = coco_polygons(masks) if segmentation == "polygon" else [None] * len(masks)
    annotations = [
        {"category": name, "segmentation": poly if poly is not None else rle, "area": area,
         "bbox": [float(v) for v in box], "iscrowd": 0}
        for name, area, box, rle, poly in zip(
            chosen.class_name.tolist(), masks.area.tolist(), masks.boxes.tolist(), rles, polys, strict=True
        )
    ]  # fmt: skip
    return CocoRecord(str(file_name), h, w, annotations, int((~keep).sum()))


def _categories(categories: Categories | None, name: str = "categories") -> list[dict[str, Any]] | None:
    """Given categories as COCO dicts (names get ids 1, 2, ...), checked; None to take the names found."""
    if categories is None:
        return None
    if isinstance(categories, str | bytes | Mapping) or not isinstance(categories, Sequence):
        raise InputError(f"{name} must be a list of class names or COCO category dicts, got {categories!r}")
    out = []
    for k, c in enumerate(categories):
        if isinstance(c, str):
            out.append({"id": k + 1, "name": c, "supercategory": ""})
        elif isinstance(c, Mapping) and isinstance(c.get("id"), int) and isinstance(c.get("name"), str):
            out.append(dict(c))
        else:
            raise InputError(
                f"{name}[{k}] must be a class name or a COCO category dict with int id and name, got {c!r}"
            )
    ids = [c["id"] for c in out]
    names = [c["name"] for c in out]
    if len(set(ids)) != len(ids) or len(set(names)) != len(names):
        raise InputError(f"{name} repeats an id or a name")
    return out


_INFO = {"description": "instance masks written by segmask", "version": __version__}


def _final_categories(
    given: list[dict[str, Any]] | None, names: set[str]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The categories (given, or the names found, sorted, ids 1, 2, ...) and the id of each name; every name in."""
    categories = given or [{"id": k + 1, "name": n, "supercategory": ""} for k, n in enumerate(sorted(names))]
    ids = {c["name"]: c["id"] for c in categories}
    missing = sorted(names - set(ids))
    if missing:
        raise InputError(f"the class {missing[0]!r} is not in categories")
    return categories, ids


class CocoWriter:
    """Stream images into a COCO instances file; it appears whole at :meth:`close`, or not at all.

    Parameters
    ----------
    out : path
        The file to write (replaced atomically).
    categories : class names or COCO category dicts, optional
        Default: the class names seen, sorted, with ids 1, 2, ...; given
        ones must hold every class seen.

    Examples
    --------
    >>> import tempfile, json, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "coco.json"
    >>> with CocoWriter(out) as writer:
    ...     image_id = writer.add(CocoRecord("a.jpg", 4, 4, [{"category": "cat", "segmentation": [], "area": 0,
    ...                                                        "bbox": [0, 0, 0, 0], "iscrowd": 0}]))
    >>> data = json.loads(out.read_text())
    >>> data["categories"], data["annotations"][0]["category_id"], data["images"][0]["id"]
    ([{'id': 1, 'name': 'cat', 'supercategory': ''}], 1, 1)
    """

    def __init__(self, out: str | os.PathLike[str], categories: Categories | None = None) -> None:
        self.out = Path(out)
        if self.out.is_dir():
            raise InputError(f"{str(self.out)!r} is a folder; the COCO output is a file")
        self._given = _categories(categories)
        self._names: set[str] = set()
        self._images = 0
        self._annotations = 0
        self._without = 0
        self._polygons = 0
        # Spools in the system's temporary folder, gone when closed or when this process dies.
        self._spool_images: IO[bytes] = tempfile.TemporaryFile(prefix="segmask-images-")  # noqa: SIM115
        self._spool_annotations: IO[bytes] = tempfile.TemporaryFile(prefix="segmask-annotations-")  # noqa: SIM115
        self._closed = False
        #: What :meth:`close` wrote.
        self.report: WriteReport | None = None

    def add(self, record: CocoRecord) -> int:
        """Add one image; returns its id (1, 2, ... in the order added)."""
        self._images += 1
        image_id = self._images
        entry = {"id": image_id, "file_name": record.file_name, "height": record.height, "width": record.width}
        self._spool_images.write(orjson.dumps(entry) + b"\n")
        self._without += record.without_mask
        for ann in record.annotations:
            self._names.add(ann["category"])
            self._polygons += isinstance(ann["segmentation"], list)
            self._spool_annotations.write(orjson.dumps({**ann, "image_id": image_id}) + b"\n")
            self._annotations += 1
        return image_id

    def close(self) -> WriteReport:
        """Fix the categories and write the file (atomically); returns what was written."""
        if self._closed:
            raise InputError("this CocoWriter is already closed")
        self._closed = True
        try:
            categories, ids = _final_categories(self._given, self._names)
            info = {
                **_INFO,
                "date_created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "segmask": {"polygons": self._polygons, "rles": self._annotations - self._polygons,
                            "without_mask": self._without},
            }  # fmt: skip
            self.out.parent.mkdir(parents=True, exist_ok=True)
            remove_stale(self.out.parent, self.out.name)
            with atomic_open(self.out, "wb") as f:
                f.write(b'{"info": ' + orjson.dumps(info) + b', "licenses": [], "categories": ')
                f.write(orjson.dumps(categories) + b', "images": [')
                self._spool_images.seek(0)
                for k, line in enumerate(self._spool_images):
                    f.write((b", " if k else b"") + line.rstrip(b"\n"))
                f.write(b'], "annotations": [')
                self._spool_annotations.seek(0)
                for k, line in enumerate(self._spool_annotations):
                    ann = orjson.loads(line)
                    ann["category_id"] = ids[ann.pop("category")]
                    ann["id"] = k + 1
                    f.write((b", " if k else b"") + orjson.dumps(ann))
                f.write(b"]}\n")
        finally:
            self._spool_images.close()
            self._spool_annotations.close()
        self.report = WriteReport(
            paths=[str(self.out)], images=self._images, instances=self._annotations, without_mask=self._without,
            polygons=self._polygons, rles=self._annotations - self._polygons,
            categories=[c["name"] for c in categories],
        )  # fmt: skip
        return self.report

    def __enter__(self) -> CocoWriter:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if kind is None:
            self.close()
        else:  # nothing is written
            self._closed = True
            self._spool_images.close()
            self._spool_annotations.close()


def to_coco(
    items: Iterable[Item],
    out: str | os.PathLike[str],
    *,
    categories: Categories | None = None,
    segmentation: str = "polygon",
    rule: Rule | None = None,
) -> WriteReport:
    """Write a COCO instances file from ``(file_name, Predictions)`` pairs.

    Parameters
    ----------
    items : iterable of (file_name, Predictions)
        Each needs its image size (from the response, or set by the caller).
    out : path
        The JSON file to write; it appears whole or not at all.
    categories : class names or COCO category dicts, optional
        Default: the class names found, sorted, with ids 1, 2, ...
    segmentation : {"polygon", "rle"}
        ``"rle"``: every mask as RLE, exact to the pixel. ``"polygon"``:
        polygons that pycocotools fills to exactly the mask's pixels (see
        :func:`segmask.coco_polygons`), RLE for the masks no polygon can hold.
    rule : {"contour", "coco"}, optional
        How polygons in the predictions are filled; default each one's own
        (``"contour"`` for API responses, ``"coco"`` for :func:`from_coco`).

    Returns
    -------
    WriteReport
        Images and annotations written (``area`` the mask's pixel count,
        ``bbox`` the box of its pixels, ``iscrowd`` 0); predictions without a
        mask are not written and are counted. ``info`` in the file says so too.

    See Also
    --------
    from_coco : the other way.
    to_coco_results : a results list for evaluation.

    Examples
    --------
    >>> import tempfile
    >>> preds = Predictions.from_response({"image": {"width": 8, "height": 8}, "predictions": [
    ...     {"x": 4, "y": 4, "width": 4, "height": 4, "class": "dot", "confidence": 0.9,
    ...      "points": [{"x": 2, "y": 2}, {"x": 6, "y": 2}, {"x": 6, "y": 6}]}]})
    >>> report = to_coco([("a.jpg", preds)], tempfile.mkdtemp() + "/coco.json")
    >>> report.images, report.instances, report.polygons, report.categories
    (1, 1, 1, ['dot'])
    """
    pairs = check_items(items)
    mode = _validate.choice("segmentation", segmentation, ("polygon", "rle"))
    with CocoWriter(out, categories) as writer:
        for k, (file_name, preds) in enumerate(pairs):
            try:
                writer.add(coco_record(file_name, preds, rule=rule, segmentation=mode))
            except InputError as exc:
                raise type(exc)(f"items[{k}] ({file_name!r}): {exc}") from None
    assert writer.report is not None
    return writer.report


def dataset_dict(
    items: Iterable[Item], *, categories: Categories | None = None, segmentation: str = "rle", rule: Rule | None = None
) -> dict[str, Any]:
    """A COCO instances dict in memory (what :func:`to_coco` writes), for evaluation."""
    pairs = check_items(items)
    cats = _categories(categories)
    images, annotations = [], []
    names: set[str] = set()
    for k, (file_name, preds) in enumerate(pairs):
        try:
            record = coco_record(file_name, preds, rule=rule, segmentation=segmentation)
        except InputError as exc:
            raise type(exc)(f"items[{k}] ({file_name!r}): {exc}") from None
        images.append({"id": k + 1, "file_name": record.file_name, "height": record.height, "width": record.width})
        for ann in record.annotations:
            names.add(ann["category"])
            annotations.append({**ann, "image_id": k + 1})
    cats, ids = _final_categories(cats, names)
    for k, ann in enumerate(annotations):
        ann["category_id"] = ids[ann.pop("category")]
        ann["id"] = k + 1
    return {"info": dict(_INFO), "licenses": [], "images": images, "annotations": annotations, "categories": cats}


def _ground_truth(ground_truth: str | os.PathLike[str] | Mapping[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """Image ids by file name and category ids by name, from a COCO file or dict."""
    data = response.read_dataset(ground_truth) if isinstance(ground_truth, str | os.PathLike) else ground_truth
    if not isinstance(data, Mapping) or not isinstance(data.get("images"), list):
        raise ResponseFormatError("ground_truth must be a COCO instances file or dict with an 'images' list")
    images: dict[str, int] = {}
    for k, im in enumerate(data["images"]):
        if not isinstance(im, Mapping) or not isinstance(im.get("file_name"), str) or not isinstance(im.get("id"), int):
            raise ResponseFormatError(f"images[{k}] needs a file_name (str) and an id (int)")
        images[im["file_name"]] = im["id"]
    return images, {c["name"]: c["id"] for c in _gt_categories(data)}


def _gt_categories(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    cats = data.get("categories", [])
    if not isinstance(cats, list):
        raise ResponseFormatError("categories must be a list")
    for k, c in enumerate(cats):
        if not isinstance(c, Mapping) or not isinstance(c.get("id"), int) or isinstance(c.get("id"), bool):
            raise ResponseFormatError(f"categories[{k}] has no integer id: {c!r}")
        if not isinstance(c.get("name"), str):
            raise ResponseFormatError(f"categories[{k}] has no name: {c!r}")
    return [dict(c) for c in cats]


def coco_results(
    preds: Predictions, image_id: int, categories: Mapping[str, int], *, rule: Rule | None = None
) -> list[dict[str, Any]]:
    """One image's entries of a COCO results list: predictions with a mask, as exact RLE."""
    keep = np.flatnonzero(preds.has_mask)
    if not keep.size:
        return []
    if preds.image_size is None:
        raise InputError("has no image size: set it before exporting")
    chosen = preds[keep]
    masks = chosen.masks(rule=rule)
    out = []
    for name, score, box, rle in zip(
        chosen.class_name.tolist(), chosen.confidence.tolist(), masks.boxes.tolist(), masks.to_rle(), strict=True
    ):
        if name not in categories:
            raise InputError(f"has class {name!r}, which the ground truth does not have")
        out.append({"image_id": image_id, "category_id": int(categories[name]), "segmentation": rle,
                    "bbox": [float(v) for v in box], "score": float(score)})  # fmt: skip
    return out


def results_list(
    items: Iterable[Item], ground_truth: str | os.PathLike[str] | Mapping[str, Any], *, rule: Rule | None = None
) -> list[dict[str, Any]]:
    """The results list for ``items``, matched to the ground truth's images by file name."""
    pairs = check_items(items)
    image_ids, categories = _ground_truth(ground_truth)
    out: list[dict[str, Any]] = []
    for k, (file_name, preds) in enumerate(pairs):
        if file_name not in image_ids:
            raise InputError(f"items[{k}]: {file_name!r} is not an image of the ground truth")
        try:
            out.extend(coco_results(preds, image_ids[file_name], categories, rule=rule))
        except InputError as exc:
            raise InputError(f"items[{k}] ({file_name!r}) {exc}") from None
    return out


def to_coco_results(
    items: Iterable[Item],
    out: str | os.PathLike[str],
    *,
    ground_truth: str | os.PathLike[str] | Mapping[str, Any],
    rule: Rule | None = None,
) -> WriteReport:
    """Write the COCO results list (what ``COCO.loadRes`` takes) for predictions with masks.

    Parameters
    ----------
    items : iterable of (file_name, Predictions)
        Matched to the ground truth's images by ``file_name``, to its
        categories by class name.
    out : path
        The JSON file to write; it appears whole or not at all.
    ground_truth : path or COCO instances dict
    rule : see :func:`to_coco`

    Returns
    -------
    WriteReport
        ``instances``: results written (``segmentation`` as exact RLE,
        ``bbox`` the box of its pixels, ``score`` the confidence).

    See Also
    --------
    evaluate : takes the pairs directly.
    """
    pairs = check_items(items)
    results = results_list(pairs, ground_truth, rule=rule)
    target = Path(out)
    remove_stale(target.parent if target.parent.exists() else ".", target.name)
    with atomic_open(target, "wb") as f:
        f.write(b"[")
        for k, r in enumerate(results):
            f.write((b", " if k else b"") + orjson.dumps(r))
        f.write(b"]\n")
    without = sum(int((~p.has_mask).sum()) for _, p in pairs)
    return WriteReport(paths=[str(target)], images=len(pairs), instances=len(results), without_mask=without,
                       rles=len(results))  # fmt: skip


def from_coco(source: str | os.PathLike[str] | Mapping[str, Any]) -> list[Item]:
    """Read a COCO instances file (or dict) into one ``(file_name, Predictions)`` per image.

    Polygons (one or several per annotation) become shapely polygons filled by
    pycocotools' rule (the Predictions' ``rule`` is ``"coco"``), RLE and crowd
    annotations keep their exact pixels (``iscrowd``, ``area`` and ``id``
    stay in each prediction's extra fields), a bbox-only annotation
    (``segmentation: []``) keeps its box and has no mask. Confidences are 1.

    Raises
    ------
    ResponseFormatError
        Naming the image, annotation or category and what is wrong with it.

    See Also
    --------
    to_coco : the other way.
    """
    data = response.read_dataset(source) if isinstance(source, str | os.PathLike) else source
    if not isinstance(data, Mapping) or not isinstance(data.get("images"), list):
        raise ResponseFormatError("a COCO file needs an 'images' list")
    names = {c["id"]: c["name"] for c in _gt_categories(data)}
    by_image: dict[Any, list[tuple[int, Mapping[str, Any]]]] = {}
    sizes: dict[Any, tuple[str, tuple[int, int]]] = {}
    for k, image in enumerate(data["images"]):
        where = f"images[{k}]"
        if not isinstance(image, Mapping) or not isinstance(image.get("file_name"), str):
            raise ResponseFormatError(f"{where} needs a file_name")
        if image.get("id") in by_image or isinstance(image.get("id"), bool | float | type(None)):
            raise ResponseFormatError(f"{where}.id {image.get('id')!r} is missing or repeated")
        try:
            size = _validate.image_size((image.get("height"), image.get("width")), f"{where} (height, width)")
        except InputError as exc:
            raise ResponseFormatError(str(exc)) from None
        by_image[image["id"]] = []
        sizes[image["id"]] = (image["file_name"], size)
    annotations = data.get("annotations", [])
    if not isinstance(annotations, list):
        raise ResponseFormatError("annotations must be a list")
    for k, ann in enumerate(annotations):
        if not isinstance(ann, Mapping) or ann.get("image_id") not in by_image:
            image_id = ann.get("image_id") if isinstance(ann, Mapping) else None
            raise ResponseFormatError(f"annotations[{k}].image_id {image_id!r} is not an image of the file")
        by_image[ann["image_id"]].append((k, ann))
    out: list[Item] = []
    for image_id, anns in by_image.items():
        file_name, (h, w) = sizes[image_id]
        predictions = [_prediction(k, ann, names, (h, w)) for k, ann in anns]
        preds = response.parse({"predictions": predictions, "image": {"width": w, "height": h}})
        shapes = tuple(_shape(k, ann) for k, ann in anns)
        out.append((file_name, preds.with_polygons(shapes, rule="coco")))
    return out


def _prediction(k: int, ann: Mapping[str, Any], names: Mapping[Any, str], size: tuple[int, int]) -> dict[str, Any]:
    where = f"annotations[{k}]"
    bbox = ann.get("bbox")
    ok = isinstance(bbox, list) and len(bbox) == 4 and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in bbox)  # fmt: skip
    if not ok:
        raise ResponseFormatError(f"{where}.bbox is {bbox!r}, expected [x, y, w, h]")
    if ann.get("category_id") not in names:
        raise ResponseFormatError(f"{where}.category_id {ann.get('category_id')!r} is not in categories")
    x, y, bw, bh = (float(v) for v in bbox)  # type: ignore[union-attr]
    p: dict[str, Any] = {"x": x + bw / 2, "y": y + bh / 2, "width": bw, "height": bh, "confidence": 1.0,
                         "class": names[ann["category_id"]], "class_id": int(ann["category_id"]),
                         "detection_id": str(ann.get("id", k)),
                         "iscrowd": int(ann.get("iscrowd", 0) or 0), "area": ann.get("area")}  # fmt: skip
    seg = ann.get("segmentation")
    if isinstance(seg, Mapping):
        rle = dict(seg)
        if list(rle.get("size", [])) != [size[0], size[1]]:
            raise ResponseFormatError(f"{where}.segmentation.size is {rle.get('size')!r}, the image is {list(size)}")
        p["rle"] = rle
    elif seg is not None and not isinstance(seg, list):
        raise ResponseFormatError(f"{where}.segmentation must be polygons (a list) or an RLE dict, got {seg!r}")
    return p


def _shape(k: int, ann: Mapping[str, Any]) -> Any:
    """A COCO polygon list -> a shapely (Multi)Polygon; None for RLE or no segmentation."""
    seg = ann.get("segmentation")
    if not isinstance(seg, list) or not seg:
        return None
    rings = []
    for j, flat in enumerate(seg):
        try:
            coords = np.asarray(flat, dtype=np.float64)
        except (TypeError, ValueError):
            coords = np.zeros(1)
        if coords.ndim != 1 or coords.size % 2 or coords.size < 6 or not np.isfinite(coords).all():
            raise ResponseFormatError(
                f"annotations[{k}].segmentation[{j}] must be a flat list of 3 or more x, y pairs, "
                f"got {coords.size} numbers (pycocotools would read 4 as a box)"
            )
        rings.append(shapely.Polygon(coords.reshape(-1, 2)))
    return rings[0] if len(rings) == 1 else shapely.MultiPolygon(rings)
