"""COCO evaluation with pycocotools' numbers, on the fastest engine installed.

:func:`evaluate` takes ground truth and predictions as files, COCO dicts or
segmask objects and runs one of three engines whose numbers are
pycocotools' own (the tests hold each to pycocotools within 1e-12): hotcoco
(Rust), faster-coco-eval (C++) or pycocotools itself. Files go to the engine
as they are. Beyond the 12 numbers it gives the AP of each class and the
precision-recall curve; :func:`confusion_matrix` counts which class was
taken for which.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from . import _validate, limits, response
from ._optional import require
from .coco import dataset_dict, from_coco, results_list
from .errors import InputError, MissingDependencyError, ResponseFormatError
from .iou import box_iou, iou
from .predictions import Predictions

__all__ = ["BACKENDS", "METRICS", "confusion_matrix", "evaluate"]

#: The keys of COCOeval's 12 numbers, in ``stats`` order.
METRICS = ("AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl")

#: The engines, fastest first; ``"auto"`` takes the first one installed.
BACKENDS = ("hotcoco", "faster_coco_eval", "pycocotools")

GroundTruth = str | os.PathLike[str] | Mapping[str, Any] | Sequence[tuple[str, Predictions]]
Results = str | os.PathLike[str] | Sequence[Mapping[str, Any]] | Sequence[tuple[str, Predictions]]


def _is_items(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and isinstance(value[0], tuple) and len(value[0]) == 2 \
        and isinstance(value[0][1], Predictions)  # fmt: skip


def _is_path(value: Any) -> bool:
    return isinstance(value, str | os.PathLike)


def evaluate(
    ground_truth: GroundTruth,
    predictions: Results,
    *,
    iou_type: str = "segm",
    backend: str = "auto",
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
    backend : {"auto", "hotcoco", "faster_coco_eval", "pycocotools"}
        The engine; ``"auto"`` takes the fastest installed (see
        :data:`BACKENDS`; ``pip install 'segmask[eval]'`` installs hotcoco).
        All give pycocotools' numbers.

    Returns
    -------
    dict
        The 12 numbers under ``METRICS`` (``AP``, ``AP50``, ..., ``ARl``), as
        COCOeval's ``stats`` gives them (-1 where there is nothing to
        measure); ``per_class``: class name -> AP at IoU 0.50:0.95 over all
        areas and 100 detections (-1 for a class without ground truth);
        ``pr_curve``: ``recall`` (COCOeval's 101 points), ``precision_50``
        (at IoU 0.5) and ``precision`` (over IoU 0.50:0.95), each averaged
        over the classes that have ground truth (-1 where none has); and
        ``backend``, the engine that ran.

    See Also
    --------
    confusion_matrix : which class was taken for which.
    to_coco, to_coco_results : the files it reads.

    Examples
    --------
    >>> from segmask.testing import sample_predictions
    >>> truth = sample_predictions()
    >>> metrics = evaluate([("sample.png", truth)], [("sample.png", truth)])
    >>> metrics["AP"], metrics["AP50"], metrics["backend"] in BACKENDS
    (1.0, 1.0, True)
    """
    iou_type = _validate.choice("iou_type", iou_type, ("segm", "bbox"))
    engine = _engine(_validate.choice("backend", backend, ("auto", *BACKENDS)))
    gt, dt = _inputs(ground_truth, predictions, iou_type, keep_paths=engine == "hotcoco")
    quiet = io.StringIO()
    with contextlib.redirect_stdout(quiet):
        if engine == "hotcoco":
            evaluator, names = _hotcoco(gt, dt, iou_type)
        else:
            evaluator, names = _pycocotools_like(engine, gt, dt, iou_type)
    out: dict[str, Any] = {k: float(v) for k, v in zip(METRICS, evaluator.stats, strict=False)}
    precision = np.asarray(evaluator.eval["precision"])  # [iou, recall, class, area, max dets]
    per_class = {}
    for k, name in enumerate(names):
        p = precision[:, :, k, 0, -1]
        p = p[p > -1]
        per_class[name] = float(np.mean(p)) if p.size else -1.0
    out["per_class"] = per_class
    recall = [float(r) for r in evaluator.params.recThrs]
    out["pr_curve"] = {
        "recall": recall,
        "precision_50": _mean_valid(precision[0, :, :, 0, -1]),
        "precision": _mean_valid(precision[:, :, :, 0, -1].transpose(1, 0, 2).reshape(len(recall), -1)),
    }
    out["backend"] = engine
    return out


def _engine(name: str) -> str:
    """The engine to run: the one named, or the fastest installed."""
    if name != "auto":
        _modules(name)  # a clear error now when it is missing
        return name
    for candidate in BACKENDS:
        try:
            _modules(candidate)
        except MissingDependencyError:
            continue
        return candidate
    raise AssertionError("pycocotools is a dependency of segmask")  # pragma: no cover


def _modules(name: str) -> tuple[Any, Any]:
    """The engine's COCO and COCOeval classes."""
    if name in ("hotcoco", "faster_coco_eval"):
        engine = require(name, f"backend={name!r} needs the package: pip install {name.replace('_', '-')} "
                               "(or 'segmask[eval]')")  # fmt: skip
        return engine.COCO, (engine.COCOeval if name == "hotcoco" else engine.COCOeval_faster)
    return COCO, COCOeval


def _inputs(ground_truth: GroundTruth, predictions: Results, iou_type: str, *, keep_paths: bool) -> tuple[Any, Any]:
    """Ground truth and results for the engine: paths as they are (``keep_paths``), else checked objects."""
    gt: Any = ground_truth
    dt: Any = predictions
    truth: Any = None
    gt_file = f"{os.fspath(gt)}: " if _is_path(gt) else ""
    dt_file = f"{os.fspath(dt)}: " if _is_path(dt) else ""
    pairs_dt = _is_items(dt)
    if _is_path(gt) and (pairs_dt or not keep_paths):
        gt = response.read_dataset(gt)
    elif _is_items(gt):
        gt = dataset_dict(gt, segmentation="rle")
    if not _is_path(gt):
        if not isinstance(gt, Mapping) or "images" not in gt or "annotations" not in gt:
            raise InputError(
                f"{gt_file}ground_truth must be a COCO instances file or dict, or (file_name, Predictions) pairs"
            )
        truth = _named(gt_file, _check_ground_truth, gt)
    if pairs_dt:
        dt = results_list(dt, gt)
    elif _is_path(dt) and not keep_paths:
        dt = response.read_dataset(dt)
    if not _is_path(dt):
        if not isinstance(dt, list):
            raise InputError(
                f"{dt_file}predictions must be a COCO results file or list, or (file_name, Predictions) pairs"
            )
        if truth is not None:
            _named(dt_file, _check_results, dt, truth, iou_type)
    for kept in (gt, dt):  # a file the engine reads itself: bounded as segmask's own reads are
        if _is_path(kept) and os.path.isfile(kept) and os.path.getsize(kept) > limits.MAX_DATASET_BYTES:
            raise InputError(
                f"{os.fspath(kept)}: larger than {limits.MAX_DATASET_BYTES} bytes, "
                "segmask.limits.MAX_DATASET_BYTES limit"
            )
    return gt, dt


def _named(where: str, check: Any, *args: Any) -> Any:
    """A check whose message starts with the file the data came from."""
    try:
        return check(*args)
    except ResponseFormatError as exc:
        if not where:
            raise
        raise ResponseFormatError(f"{where}{exc}") from None


def _pycocotools_like(engine: str, gt: Mapping[str, Any], dt: list[Any], iou_type: str) -> tuple[Any, list[str]]:
    """pycocotools or faster-coco-eval: annotation dicts copied (COCOeval writes into them), not deep-copied."""
    coco_cls, eval_cls = _modules(engine)
    coco_gt = coco_cls()
    coco_gt.dataset = {**gt, "annotations": [dict(a) for a in gt["annotations"]]}
    coco_gt.createIndex()
    if dt:
        coco_dt = coco_gt.loadRes([dict(r) for r in dt])
    else:  # loadRes refuses an empty list: no detections is a valid result
        coco_dt = coco_cls()
        coco_dt.dataset = {"images": list(gt["images"]), "categories": list(gt["categories"]), "annotations": []}
        coco_dt.createIndex()
    evaluator = eval_cls(coco_gt, coco_dt, iou_type)
    evaluator.evaluate()
    evaluator.accumulate()
    evaluator.summarize()
    return evaluator, [str(coco_gt.cats[c]["name"]) for c in evaluator.params.catIds]


def _hotcoco(gt: Any, dt: Any, iou_type: str) -> tuple[Any, list[str]]:
    """hotcoco: a path goes to it as it is; its errors name the file."""
    coco_cls, eval_cls = _modules("hotcoco")
    coco_gt = _engine_call(lambda: coco_cls(os.fspath(gt) if _is_path(gt) else dict(gt)), gt, "ground_truth")
    coco_dt = _engine_call(lambda: coco_gt.loadRes(os.fspath(dt) if _is_path(dt) else list(dt)), dt, "predictions")
    evaluator = eval_cls(coco_gt, coco_dt, iou_type)
    _engine_call(evaluator.evaluate, dt, "predictions")
    evaluator.accumulate()
    evaluator.summarize()
    return evaluator, [str(coco_gt.cats[c]["name"]) for c in evaluator.params.catIds]


def _engine_call(call: Any, source: Any, name: str) -> Any:
    """An engine's load, its failure as a segmask error naming the file (or the argument).

    Only on failure is a file read here, for segmask's own message (missing,
    not JSON, the first bad entry); else the engine's message is given.
    """
    try:
        return call()
    except (ValueError, KeyError, TypeError, OSError, RuntimeError) as exc:
        message = str(exc)
    if _is_path(source):
        data = response.read_dataset(source)  # raises for a missing file or a body that is not JSON
        if name == "ground_truth" and isinstance(data, Mapping):
            _named(f"{os.fspath(source)}: ", _check_ground_truth, data)
        raise ResponseFormatError(f"{os.fspath(source)}: {message}")
    raise ResponseFormatError(f"{name}: {message}")


def confusion_matrix(
    ground_truth: GroundTruth,
    predictions: Results,
    *,
    iou_type: str = "segm",
    iou_threshold: float = 0.5,
    max_detections: int = 100,
) -> dict[str, Any]:
    """Which class was taken for which: predictions matched to ground truth of any class.

    In each image, the ``max_detections`` most confident predictions, best
    first, each take the unmatched ground-truth instance (of any class, not a
    crowd) they overlap most, at IoU ``>= iou_threshold`` (mask IoU for
    ``"segm"``, box IoU for ``"bbox"``). A prediction that finds none but
    lies on a crowd region (pycocotools' crowd IoU) is ignored, as COCOeval
    ignores it; else it is a false positive. Ground truth left unmatched is
    a false negative.

    Returns
    -------
    dict
        ``classes``: the category names by id (K); ``matrix``: (K + 1, K + 1)
        int64, rows the ground truth's class, columns the predicted class,
        index K the background (row K: false positives; column K: false
        negatives); ``iou_threshold``.

    Examples
    --------
    >>> from segmask.testing import sample_predictions
    >>> truth = sample_predictions()
    >>> cm = confusion_matrix([("sample.png", truth)], [("sample.png", truth)])
    >>> cm["classes"], int(np.trace(cm["matrix"])), int(cm["matrix"][:, -1].sum())
    (['badge', 'card', 'coin', 'key', 'wire'], 6, 0)
    """
    iou_type = _validate.choice("iou_type", iou_type, ("segm", "bbox"))
    threshold = _validate.fraction(iou_threshold, "iou_threshold")
    limit = _validate.integer(max_detections, "max_detections", 1)
    gt, dt = _inputs(ground_truth, predictions, iou_type, keep_paths=False)
    cats = sorted((c["id"], str(c["name"])) for c in gt["categories"])
    column = {cid: k for k, (cid, _) in enumerate(cats)}
    k_bg = len(cats)
    matrix = np.zeros((k_bg + 1, k_bg + 1), np.int64)
    scores: dict[Any, list[float]] = {}
    for r in dt:
        scores.setdefault(r["image_id"], []).append(float(r["score"]))
    results = {"images": gt["images"], "categories": gt["categories"],
               "annotations": [{**r, "id": k, "iscrowd": 0} for k, r in enumerate(dt)]}  # fmt: skip
    truths, found = from_coco(gt), from_coco(results)
    for image, (_, g), (_, d) in zip(gt["images"], truths, found, strict=True):
        score = np.array(scores.get(image["id"], []), np.float64)
        order = np.argsort(-score, kind="stable")[:limit]
        d = d[order]
        crowd = np.array([e.get("iscrowd", 0) == 1 for e in g.extras], bool)
        if iou_type == "segm":
            overlap = iou(d.masks(), g.masks(), iscrowd=crowd)
        else:
            overlap = box_iou(d.xywh, g.xywh, iscrowd=crowd)
        gt_col = [column[c] for c in g.class_id.tolist()]
        dt_col = [column[c] for c in d.class_id.tolist()]
        taken = crowd.copy()  # a crowd region is never matched, only ignored
        for i in range(len(d)):
            row = np.where(taken, -1.0, overlap[i]) if len(g) else overlap[i]
            j = int(np.argmax(row)) if row.size else -1
            if j >= 0 and row[j] >= threshold:
                taken[j] = True
                matrix[gt_col[j], dt_col[i]] += 1
            elif not (crowd.any() and (overlap[i][crowd] >= threshold).any()):
                matrix[k_bg, dt_col[i]] += 1
        for j in np.flatnonzero(~taken).tolist():
            matrix[gt_col[j], k_bg] += 1
    return {"classes": [name for _, name in cats], "matrix": matrix, "iou_threshold": threshold}


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
