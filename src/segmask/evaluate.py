"""COCO evaluation through pycocotools' COCOeval (or faster-coco-eval), with a sane interface.

:func:`evaluate` takes ground truth and predictions as files, COCO dicts or
segmask objects, runs the evaluator, and returns the 12 standard numbers and
the AP of each class. The numbers are COCOeval's own, to the last digit.
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import _validate, response
from .coco import dataset_dict, results_list
from .errors import InputError, MissingDependencyError, ResponseFormatError
from .predictions import Predictions

__all__ = ["METRICS", "evaluate"]

#: The keys of COCOeval's 12 numbers, in ``stats`` order.
METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")


def _load(source: Any) -> Any:
    if isinstance(source, str | os.PathLike):
        return response.read(source)
    return source


def _is_items(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], tuple) and len(value[0]) == 2 \
        and isinstance(value[0][1], Predictions)  # fmt: skip


def evaluate(
    ground_truth: str | os.PathLike[str] | Mapping[str, Any] | Sequence[tuple[str, Predictions]],
    predictions: str | os.PathLike[str] | Sequence[Mapping[str, Any]] | Sequence[tuple[str, Predictions]],
    *,
    iou_type: str = "segm",
    backend: str = "pycocotools",
) -> dict[str, Any]:
    """Run COCO evaluation and return its numbers as a dict.

    Parameters
    ----------
    ground_truth : path, COCO instances dict, or (file_name, Predictions) pairs
        Pairs are written with :func:`segmask.to_coco` (RLE, exact).
    predictions : path, COCO results list, or (file_name, Predictions) pairs
        Pairs are matched to the ground truth's images by ``file_name`` and to
        its categories by class name.
    iou_type : {"segm", "bbox"}
    backend : {"pycocotools", "faster_coco_eval"}
        The second needs ``pip install faster-coco-eval``.

    Returns
    -------
    dict
        The 12 numbers under ``METRICS`` (``AP``, ``AP50``, ..., ``ARl``), as
        COCOeval's ``stats`` gives them (-1 where there is nothing to
        measure), and ``per_class``: class name -> AP at IoU 0.50:0.95 over
        all areas and 100 detections (-1 for a class without ground truth),
        and ``pr_curve``: ``recall`` (COCOeval's 101 points), ``precision_50``
        (at IoU 0.5) and ``precision`` (over IoU 0.50:0.95), each averaged
        over the classes that have ground truth (-1 where none has).

    See Also
    --------
    to_coco, to_coco_results : the files it reads.

    Examples
    --------
    >>> from segmask.testing import sample_predictions
    >>> truth = sample_predictions()
    >>> metrics = evaluate([("sample.png", truth)], [("sample.png", truth)])
    >>> metrics["AP"], metrics["AP50"]
    (1.0, 1.0)
    """
    iou_type = _validate.choice("iou_type", iou_type, ("segm", "bbox"))
    backend = _validate.choice("backend", backend, ("pycocotools", "faster_coco_eval"))
    gt = _load(ground_truth)
    if _is_items(gt):
        gt = dataset_dict(gt, segmentation="rle")
    if not isinstance(gt, Mapping) or "images" not in gt or "annotations" not in gt:
        raise InputError("ground_truth must be a COCO instances file or dict, or (file_name, Predictions) pairs")
    dt = _load(predictions)
    if _is_items(dt):
        dt = results_list(dt, gt)
    if not isinstance(dt, list):
        raise InputError("predictions must be a COCO results file or list, or (file_name, Predictions) pairs")
    _check_results(dt, _check_ground_truth(gt), iou_type)
    coco_cls, eval_cls = _backend(backend)
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        coco_gt = coco_cls()
        coco_gt.dataset = copy.deepcopy(dict(gt))
        coco_gt.createIndex()
        if dt:
            coco_dt = coco_gt.loadRes(copy.deepcopy(dt))
        else:  # loadRes refuses an empty list: no detections is a valid result
            coco_dt = coco_cls()
            coco_dt.dataset = {"images": list(gt["images"]), "categories": list(gt["categories"]), "annotations": []}
            coco_dt.createIndex()
        evaluator = eval_cls(coco_gt, coco_dt, iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    out: dict[str, Any] = {k: float(v) for k, v in zip(METRICS, evaluator.stats, strict=False)}
    precision = evaluator.eval["precision"]  # [iou, recall, class, area, max dets]
    per_class = {}
    for k, cat_id in enumerate(evaluator.params.catIds):
        p = precision[:, :, k, 0, -1]
        p = p[p > -1]
        per_class[str(coco_gt.cats[cat_id]["name"])] = float(np.mean(p)) if p.size else -1.0
    out["per_class"] = per_class
    out["pr_curve"] = {
        "recall": [float(r) for r in evaluator.params.recThrs],
        "precision_50": _mean_valid(precision[0, :, :, 0, -1]),
        "precision": _mean_valid(
            precision[:, :, :, 0, -1].transpose(1, 0, 2).reshape(len(evaluator.params.recThrs), -1)
        ),
    }
    return out


def _check_ground_truth(gt: Mapping[str, Any]) -> tuple[dict[Any, tuple[Any, Any]], set[Any]]:
    """Image sizes by id and the category ids, checked: COCOeval's KeyErrors become messages."""
    images = gt.get("images")
    cats = gt.get("categories")
    if not isinstance(images, list) or not isinstance(cats, list) or not isinstance(gt.get("annotations"), list):
        raise ResponseFormatError("ground_truth needs 'images', 'annotations' and 'categories' lists")
    sizes: dict[Any, tuple[Any, Any]] = {}
    for k, im in enumerate(images):
        if not isinstance(im, Mapping) or not isinstance(im.get("id"), int) or isinstance(im.get("id"), bool):
            raise ResponseFormatError(f"ground_truth images[{k}] needs an integer id")
        sizes[im["id"]] = (im.get("height"), im.get("width"))
    ids = set()
    for k, c in enumerate(cats):
        if not isinstance(c, Mapping) or not isinstance(c.get("id"), int) or "name" not in c:
            raise ResponseFormatError(f"ground_truth categories[{k}] needs an integer id and a name")
        ids.add(c["id"])
    for k, ann in enumerate(gt["annotations"]):
        where = f"ground_truth annotations[{k}]"
        if not isinstance(ann, Mapping):
            raise ResponseFormatError(f"{where} is not an object")
        for key in ("id", "image_id", "category_id", "bbox", "area", "segmentation"):
            if key not in ann:
                raise ResponseFormatError(f"{where} has no {key!r}")
        if ann["image_id"] not in sizes:
            raise ResponseFormatError(f"{where}.image_id {ann['image_id']!r} is not an image")
        if ann["category_id"] not in ids:
            raise ResponseFormatError(f"{where}.category_id {ann['category_id']!r} is not a category")
    return sizes, ids


def _check_results(dt: list[Any], truth: tuple[dict[Any, tuple[Any, Any]], set[Any]], iou_type: str) -> None:
    """Each result names an image and a category of the ground truth and carries what iou_type needs."""
    sizes, categories = truth
    for k, r in enumerate(dt):
        where = f"predictions[{k}]"
        if not isinstance(r, Mapping):
            raise ResponseFormatError(f"{where} is not an object")
        if r.get("image_id") not in sizes:
            raise ResponseFormatError(f"{where}.image_id {r.get('image_id')!r} is not an image of the ground truth")
        if r.get("category_id") not in categories:
            raise ResponseFormatError(
                f"{where}.category_id {r.get('category_id')!r} is not a category of the ground truth"
            )
        score = r.get("score")
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
            raise ResponseFormatError(f"{where}.score is {score!r}, expected a number")
        if iou_type == "segm":
            seg = r.get("segmentation")
            if isinstance(seg, Mapping):
                if list(seg.get("size", [])) != list(sizes[r["image_id"]]):
                    raise ResponseFormatError(
                        f"{where}.segmentation.size is {seg.get('size')!r}, the image is {list(sizes[r['image_id']])}"
                    )
            elif not (isinstance(seg, list) and seg):
                raise ResponseFormatError(f"{where}.segmentation is {seg!r}, expected an RLE or polygons")
        else:
            box = r.get("bbox")
            ok = isinstance(box, list) and len(box) == 4 and all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in box)  # fmt: skip
            if not ok:
                raise ResponseFormatError(f"{where}.bbox is {box!r}, expected [x, y, w, h]")


def _mean_valid(p: np.ndarray) -> list[float]:
    """Mean over the last axis, ignoring COCOeval's -1 (no ground truth)."""
    valid = p > -1
    sums = np.where(valid, p, 0.0).sum(axis=1)
    counts = valid.sum(axis=1)
    return [float(s / c) if c else -1.0 for s, c in zip(sums, counts, strict=True)]


def _backend(name: str) -> tuple[Any, Any]:
    if name == "pycocotools":
        from pycocotools.coco import COCO
        from pycocotools.cocoeval import COCOeval

        return COCO, COCOeval
    try:
        from faster_coco_eval import COCO as FastCOCO
        from faster_coco_eval import COCOeval_faster
    except ImportError:
        raise MissingDependencyError(
            "backend='faster_coco_eval' needs the package: pip install faster-coco-eval"
        ) from None
    return FastCOCO, COCOeval_faster
