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
import math
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Any, NamedTuple

import numpy as np
import orjson
import shapely
from numpy.typing import NDArray

from . import _ragged, _validate, response
from ._columns import Columns, RLERef, class_names
from ._io import atomic_open, remove_stale
from ._version import __version__
from .datasets import Item, WriteReport, check_items
from .errors import InputError, ResponseFormatError, RLEError
from .predictions import Predictions
from .rle import parse_rles
from .rules import Rule
from .tracing import coco_polygons

__all__ = [
    "CocoRecord",
    "CocoWriter",
    "coco_record",
    "coco_results",
    "dataset_dict",
    "from_coco",
    "ground_truth_ids",
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


def ground_truth_ids(
    ground_truth: str | os.PathLike[str] | Mapping[str, Any],
) -> tuple[dict[str, int], dict[str, int]]:
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
    image_ids, categories = ground_truth_ids(ground_truth)
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
    annotations keep their exact pixels (``iscrowd`` 0 or 1, ``area`` and
    ``id`` stay in each prediction's extra fields: ``preds.extras[i]["iscrowd"]``
    says which are crowds), a bbox-only annotation (``segmentation: []``)
    keeps its box and has no mask. Confidences are 1; class names are the
    categories' as written.

    Raises
    ------
    ResponseFormatError
        Naming the file, the image, annotation or category by its index in
        the file (``annotations[6]``) and what is wrong with it: a missing or
        mistyped field, an id that is not an integer (or a string, for images
        and annotations) within int64, a repeated id, a class name with a NUL
        character or a lone surrogate.

    See Also
    --------
    to_coco : the other way.
    """
    if not isinstance(source, str | os.PathLike):
        return _read_coco(source)
    data = response.read_dataset(source)
    try:
        return _read_coco(data)
    except ResponseFormatError as exc:
        raise ResponseFormatError(f"{os.fspath(source)}: {exc}") from None


class _Annotation(NamedTuple):
    """One annotation, checked: what its instance's columns hold."""

    k: int  # its index in the file's annotations list
    xywh: list[float]
    category_id: int
    detection_id: str
    extras: dict[str, Any]
    rle: dict[str, Any] | None
    rings: list[NDArray[np.float64]]  # its polygons' (K, 2) points; none for RLE or no segmentation


_INT64 = (-(2**63), 2**63 - 1)


def _id(value: Any, where: str, text: bool = False) -> int | str:
    """A COCO id: an integer within int64 (or, where ``text``, a string), else a ResponseFormatError."""
    if isinstance(value, int) and not isinstance(value, bool):
        if not _INT64[0] <= value <= _INT64[1]:
            raise ResponseFormatError(f"{where} is {value}, beyond the 64-bit integers ids are")
        return value
    if text and isinstance(value, str):
        return value
    kind = "an integer or a string" if text else "an integer"
    raise ResponseFormatError(f"{where} is {_short(value)}, expected {kind}")


def _short(value: Any) -> str:
    text = "a " + type(value).__name__ if isinstance(value, dict | list) and len(value) > 4 else repr(value)
    return text if len(text) <= 40 else f"a {type(value).__name__}"


def _read_coco(data: Any) -> list[Item]:
    if not isinstance(data, Mapping) or not isinstance(data.get("images"), list):
        raise ResponseFormatError("a COCO file needs an 'images' list")
    names = _category_names(data)
    images: dict[int | str, tuple[str, tuple[int, int], list[_Annotation]]] = {}
    for k, image in enumerate(data["images"]):
        where = f"images[{k}]"
        if not isinstance(image, Mapping) or not isinstance(image.get("file_name"), str):
            raise ResponseFormatError(f"{where} needs a file_name")
        given = image.get("id")
        image_id = None if given is None else _id(given, f"{where}.id", text=True)
        if image_id is None or image_id in images:
            raise ResponseFormatError(f"{where}.id {given!r} is missing or repeated")
        try:
            size = _validate.image_size((image.get("height"), image.get("width")), f"{where} (height, width)")
        except InputError as exc:
            raise ResponseFormatError(str(exc)) from None
        images[image_id] = (image["file_name"], size, [])
    annotations = data.get("annotations", [])
    if not isinstance(annotations, list):
        raise ResponseFormatError("annotations must be a list")
    for k, ann in enumerate(annotations):
        where = f"annotations[{k}]"
        if not isinstance(ann, Mapping):
            raise ResponseFormatError(f"{where} is {_short(ann)}, expected an annotation object")
        image_id = _id(ann.get("image_id"), f"{where}.image_id", text=True)
        if image_id not in images:
            raise ResponseFormatError(f"{where}.image_id {image_id!r} is not an image of the file")
        _, size, anns = images[image_id]
        anns.append(_annotation(k, ann, names, size))
    shapes = _shapes([a for _, _, anns in images.values() for a in anns])
    return [
        (file_name, Predictions(_image_columns(size, anns, names, shapes))) for file_name, size, anns in images.values()
    ]


def _category_names(data: Mapping[str, Any]) -> dict[int, str]:
    """Each category's name by its id: ids integers within int64, each once; names that round-trip."""
    cats = _gt_categories(data)
    names: dict[int, str] = {}
    for k, c in enumerate(cats):
        cid = _id(c["id"], f"categories[{k}].id")
        if cid in names:
            raise ResponseFormatError(f"categories[{k}].id {cid} is repeated")
        names[int(cid)] = c["name"]
    try:
        class_names(list(names.values()), lambda k: f"categories[{k}].name")
    except InputError as exc:
        raise ResponseFormatError(str(exc)) from None
    return names


def _annotation(k: int, ann: Mapping[str, Any], names: Mapping[int, str], size: tuple[int, int]) -> _Annotation:
    where = f"annotations[{k}]"
    bbox = ann.get("bbox")
    ok = isinstance(bbox, list) and len(bbox) == 4 and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in bbox)  # fmt: skip
    try:
        xywh = [float(v) for v in bbox] if ok else []  # type: ignore[union-attr]
    except OverflowError:  # an integer past the largest float
        ok = False
    if not ok or not all(math.isfinite(v) for v in xywh):
        raise ResponseFormatError(f"{where}.bbox is {_short(bbox)}, expected [x, y, w, h]")
    if xywh[2] < 0 or xywh[3] < 0:
        raise ResponseFormatError(f"{where}.bbox is {bbox!r}: a negative width or height")
    category_id = ann.get("category_id")
    if isinstance(category_id, bool) or not isinstance(category_id, int):
        raise ResponseFormatError(f"{where}.category_id is {_short(category_id)}, expected a category's integer id")
    if category_id not in names:
        raise ResponseFormatError(f"{where}.category_id {category_id!r} is not in categories")
    ann_id = ann.get("id")
    detection_id = str(k) if ann_id is None else str(_id(ann_id, f"{where}.id", text=True))
    crowd = ann.get("iscrowd")
    if crowd not in (None, 0, 1) or isinstance(crowd, float):
        raise ResponseFormatError(f"{where}.iscrowd is {_short(crowd)}, expected 0 or 1")
    extras = {"iscrowd": int(crowd or 0), "area": response.copy_json(ann.get("area"), f"{where}.area", 3)}
    seg = ann.get("segmentation")
    rle = None
    if isinstance(seg, Mapping):
        given = seg.get("size")
        fits = isinstance(given, list) and len(given) == 2 and all(type(v) is int for v in given)
        if not fits or tuple(given) != size:  # type: ignore[arg-type]
            raise ResponseFormatError(f"{where}.segmentation.size is {_short(given)}, the image is {list(size)}")
        rle = response.copy_json(dict(seg), f"{where}.segmentation", 3)
    elif seg is not None and not isinstance(seg, list):
        raise ResponseFormatError(f"{where}.segmentation must be polygons (a list) or an RLE dict, got {_short(seg)}")
    return _Annotation(k, xywh, category_id, detection_id, extras, rle, _rings(k, seg))


def _image_columns(
    size: tuple[int, int], anns: list[_Annotation], names: Mapping[int, str], shapes: Mapping[int, Any]
) -> Columns:
    """One image's annotations as columns: boxes as given, RLEs decoded in one call, polygons as shapes."""
    n = len(anns)
    xywh = np.array([a.xywh for a in anns], np.float64).reshape(n, 4)
    cxcywh = np.column_stack([xywh[:, 0] + xywh[:, 2] / 2, xywh[:, 1] + xywh[:, 3] / 2, xywh[:, 2], xywh[:, 3]])
    rles: list[RLERef | None] = [None] * n
    picks = [j for j, a in enumerate(anns) if a.rle is not None]
    if picks:
        counts, offsets = _rle_runs([anns[j] for j in picks])
        o = offsets.tolist()
        for m, j in enumerate(picks):
            rles[j] = RLERef("rle", anns[j].rle, size, counts[o[m] : o[m + 1]])  # type: ignore[arg-type]
    ids = [a.category_id for a in anns]
    return Columns(
        size, cxcywh, np.ones(n, np.float64), [names[c] for c in ids],  # type: ignore[arg-type]  # Columns checks each
        np.array(ids, np.int64).reshape(n),
        np.array([a.detection_id for a in anns], dtype=object).reshape(n), np.zeros((0, 2), np.float64),
        np.zeros(n + 1, np.int64), np.zeros(n, bool), tuple(rles), tuple(a.extras for a in anns), {},
        tuple(shapes.get(a.k) for a in anns), "coco",
    )  # fmt: skip


def _rle_runs(anns: list[_Annotation]) -> tuple[NDArray[np.uint32], NDArray[np.int64]]:
    """The runs of these annotations' RLEs (one image's), in one call; an error names the annotation."""
    try:
        _, counts, offsets, _, _ = parse_rles([a.rle for a in anns], name="segmentation")
        return counts, offsets
    except RLEError:
        for a in anns:  # which one: its message, under its own name
            at = f"annotations[{a.k}].segmentation"
            try:
                parse_rles([a.rle], name=at)
            except RLEError as exc:
                raise ResponseFormatError(str(exc).replace(f"{at}[0]", at)) from None
        raise  # pragma: no cover - one of them failed above


def _rings(k: int, seg: Any) -> list[NDArray[np.float64]]:
    """A COCO polygon list -> its rings' (K, 2) points, each checked; none for RLE or no segmentation."""
    if not isinstance(seg, list):
        return []
    rings = []
    for j, flat in enumerate(seg):
        try:
            coords = np.asarray(flat, dtype=np.float64)
        except (TypeError, ValueError, OverflowError):
            coords = np.zeros(1)
        if coords.ndim != 1 or coords.size % 2 or coords.size < 6 or not np.isfinite(coords).all():
            raise ResponseFormatError(
                f"annotations[{k}].segmentation[{j}] must be a flat list of 3 or more x, y pairs, "
                f"got {coords.size} numbers (pycocotools would read 4 as a box)"
            )
        rings.append(coords.reshape(-1, 2))
    return rings


def _shapes(anns: list[_Annotation]) -> dict[int, Any]:
    """Each polygon annotation's shapely (Multi)Polygon, by its index in the file: built in a few vectorized calls."""
    with_rings = [a for a in anns if a.rings]
    rings = [r for a in with_rings for r in a.rings]
    if not rings:
        return {}
    lengths = np.array([len(r) for r in rings], np.int64)
    polygons = shapely.polygons(shapely.linearrings(np.concatenate(rings), indices=np.repeat(np.arange(len(rings)),
                                                                                              lengths)))  # fmt: skip
    counts = np.array([len(a.rings) for a in with_rings], np.int64)
    firsts = _ragged.offsets(counts)[:-1]
    out = dict(zip([a.k for a in with_rings], polygons[firsts].tolist(), strict=True))
    several = np.flatnonzero(counts > 1)
    if several.size:  # parts of one annotation: a MultiPolygon, as pycocotools merges them
        members = np.concatenate([np.arange(firsts[i], firsts[i] + counts[i]) for i in several.tolist()])
        multi = shapely.multipolygons(polygons[members], indices=np.repeat(np.arange(several.size), counts[several]))
        out.update(zip([with_rings[i].k for i in several.tolist()], multi.tolist(), strict=True))
    return out
