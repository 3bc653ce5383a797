"""Every engine of sm.evaluate against pycocotools' COCOeval on generated COCO and LVIS-like datasets.

The datasets have what real files have: polygons (one or several per
instance) and RLE, crowd regions, images without annotations, images without
predictions, categories without ground truth, results as RLE and as
polygons, noisy and false predictions.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as pcm
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import segmask as sm

ENGINES = [e for e in sm.BACKENDS if importlib.util.find_spec(e) is not None]


def blob(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A filled random polygon, at least a pixel."""
    out = np.zeros((h, w), np.uint8)
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    r = rng.uniform(2, max(h, w) / 3)
    k = int(rng.integers(3, 12))
    angles = np.sort(rng.uniform(0, 2 * np.pi, k))
    pts = np.stack(
        [cx + r * rng.uniform(0.3, 1, k) * np.cos(angles), cy + r * rng.uniform(0.3, 1, k) * np.sin(angles)], 1
    )
    cv2.fillPoly(out, [np.round(pts).astype(np.int32)], 1)
    if not out.any():
        out[int(min(cy, h - 1)), int(min(cx, w - 1))] = 1
    return out


def segmentation(mask: np.ndarray, rng: np.random.Generator, crowd: bool) -> Any:
    """The mask as COCO polygons (its outer contours, maybe several) or as a compressed RLE."""
    if crowd or rng.random() < 0.4:
        rle = pcm.encode(np.asfortranarray(mask))
        return {"size": rle["size"], "counts": rle["counts"].decode()}
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    polys = [c[:, 0, :].astype(float).ravel().tolist() for c in contours if len(c) >= 3]
    if not polys:
        rle = pcm.encode(np.asfortranarray(mask))
        return {"size": rle["size"], "counts": rle["counts"].decode()}
    return polys


def dataset(seed: int, *, lvis: bool = False) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    rng = np.random.default_rng(seed)
    n_cats = 40 if lvis else 6
    categories = [{"id": c + 1, "name": f"class{c}", "supercategory": "x"} for c in range(n_cats)]
    if lvis:
        for c in categories:
            c["frequency"] = str(rng.choice(["r", "c", "f"]))
    images, annotations, results = [], [], []
    used_cats = rng.choice(np.arange(1, n_cats + 1), size=max(2, n_cats - 2), replace=False)  # some never in gt
    for i in range(int(rng.integers(3, 9))):
        h, w = (int(v) for v in rng.integers(20, 90, 2))
        image = {"id": i + 1, "file_name": f"im{i}.png", "height": h, "width": w}
        if lvis:
            image["not_exhaustive_category_ids"] = [int(c) for c in rng.choice(used_cats, 2)]
            image["neg_category_ids"] = [int(rng.integers(1, n_cats + 1))]
        images.append(image)
        for _ in range(int(rng.integers(0, 7)) if rng.random() > 0.15 else 0):  # some images have none
            mask = blob(rng, h, w)
            crowd = rng.random() < 0.12
            cat = int(rng.choice(used_cats))
            rle = pcm.encode(np.asfortranarray(mask))
            annotations.append({
                "id": len(annotations) + 1, "image_id": i + 1, "category_id": cat, "iscrowd": int(crowd),
                "segmentation": segmentation(mask, rng, crowd), "area": float(pcm.area(rle)),
                "bbox": [float(v) for v in pcm.toBbox(rle)],
            })  # fmt: skip
            if rng.random() < 0.8:  # a prediction near it, maybe of another class
                noisy = cv2.dilate(mask, np.ones((3, 3), np.uint8)) if rng.random() < 0.5 else mask.copy()
                noisy[rng.random((h, w)) < 0.03] ^= 1
                if not noisy.any():
                    noisy = mask
                results.append(result(i + 1, cat if rng.random() < 0.85 else int(rng.integers(1, n_cats + 1)),
                                      noisy, float(rng.uniform(0.05, 1)), rng))  # fmt: skip
        if rng.random() < 0.7:  # a false positive
            results.append(result(i + 1, int(rng.integers(1, n_cats + 1)), blob(rng, h, w), float(rng.random()), rng))
    if lvis:
        results = [r for r in results if rng.random() < 0.9]
    gt = {"info": {"description": "generated"}, "images": images, "annotations": annotations, "categories": categories}
    return gt, results


def result(image_id: int, cat: int, mask: np.ndarray, score: float, rng: np.random.Generator) -> dict[str, Any]:
    rle = pcm.encode(np.asfortranarray(mask.astype(np.uint8)))
    seg = segmentation(mask.astype(np.uint8), rng, crowd=False)
    return {"image_id": image_id, "category_id": cat, "score": round(score, 4), "segmentation": seg,
            "bbox": [float(v) for v in pcm.toBbox(rle)]}  # fmt: skip


def reference(gt_path: Path, dt: list[dict[str, Any]], iou_type: str) -> tuple[list[float], np.ndarray]:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        if dt:
            found = gt.loadRes(json.loads(json.dumps(dt)))
        else:
            found = COCO()
            found.dataset = {"images": gt.dataset["images"], "categories": gt.dataset["categories"], "annotations": []}
            found.createIndex()
        e = COCOeval(gt, found, iou_type)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return [float(v) for v in e.stats], e.eval["precision"]


def check(gt: dict[str, Any], dt: list[dict[str, Any]], tmp_path: Path, iou_type: str) -> None:
    gt_path, dt_path = tmp_path / "gt.json", tmp_path / "dt.json"
    gt_path.write_text(json.dumps(gt))
    dt_path.write_text(json.dumps(dt))
    want, precision = reference(gt_path, dt, iou_type)
    names = [c["name"] for c in sorted(gt["categories"], key=lambda c: c["id"])]
    for engine in ENGINES:
        for source in ((gt_path, dt_path), (gt, dt)):  # files as they are, and objects
            got = sm.evaluate(*source, iou_type=iou_type, backend=engine)
            assert got["backend"] == engine
            np.testing.assert_allclose([got[k] for k in sm.METRICS], want, rtol=0, atol=1e-12, err_msg=engine)
            for k, name in enumerate(names):
                p = precision[:, :, k, 0, -1]
                expected = float(np.mean(p[p > -1])) if (p > -1).any() else -1.0
                assert abs(got["per_class"][name] - expected) < 1e-12, (engine, name)


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_every_engine_gives_pycocotools_numbers(iou_type: str, seed: int, tmp_path_factory: Any) -> None:
    gt, dt = dataset(seed)
    check(gt, dt, tmp_path_factory.mktemp("eval"), iou_type)


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_lvis_like_files(iou_type: str, tmp_path: Path) -> None:
    for seed in range(3):
        gt, dt = dataset(100 + seed, lvis=True)
        check(gt, dt, tmp_path, iou_type)


def test_no_predictions_at_all_and_no_annotations(tmp_path: Path) -> None:
    gt, dt = dataset(5)
    check(gt, [], tmp_path, "segm")
    empty_gt = {**gt, "annotations": []}
    check(empty_gt, dt, tmp_path, "bbox")


def test_auto_takes_the_fastest_installed_engine() -> None:
    gt, dt = dataset(1)
    assert sm.evaluate(gt, dt)["backend"] == ENGINES[0]


def test_engine_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"images": [], "annotations": [{"x": 1}]}')
    _, dt = dataset(2)
    for engine in ENGINES:
        with pytest.raises(sm.ResponseFormatError, match=r"bad\.json"):
            sm.evaluate(bad, dt, backend=engine)
        with pytest.raises(sm.InputError, match=r"missing\.json"):
            sm.evaluate(tmp_path / "missing.json", dt, backend=engine)


# --- the confusion matrix -------------------------------------------------------------------------


def square(x: int, y: int, s: int = 10, size: tuple[int, int] = (50, 50)) -> Any:
    m = np.zeros(size, np.uint8)
    m[y : y + s, x : x + s] = 1
    rle = pcm.encode(np.asfortranarray(m))
    return {"size": rle["size"], "counts": rle["counts"].decode()}, [float(v) for v in pcm.toBbox(rle)]


def test_confusion_matrix_counts_by_hand() -> None:
    cats = [{"id": 1, "name": "cat"}, {"id": 2, "name": "dog"}]
    anns, dets = [], []
    for k, (x, y, cat, crowd) in enumerate([(0, 0, 1, 0), (20, 0, 1, 0), (0, 20, 2, 0), (30, 30, 2, 1)]):
        seg, box = square(x, y, 15 if crowd else 10)
        anns.append({"id": k + 1, "image_id": 1, "category_id": cat, "iscrowd": crowd, "segmentation": seg,
                     "area": 225.0 if crowd else 100.0, "bbox": box})  # fmt: skip
    for x, y, cat, score in [(0, 0, 1, 0.9), (20, 0, 2, 0.8), (40, 0, 1, 0.7), (31, 31, 1, 0.6), (1, 0, 1, 0.5)]:
        seg, box = square(x, y, 9 if (x, y) == (31, 31) else 10)
        dets.append({"image_id": 1, "category_id": cat, "score": score, "segmentation": seg, "bbox": box})
    gt = {"images": [{"id": 1, "file_name": "a.png", "height": 50, "width": 50}], "annotations": anns,
          "categories": cats}  # fmt: skip
    for iou_type in ("segm", "bbox"):
        cm = sm.confusion_matrix(gt, dets, iou_type=iou_type)
        assert cm["classes"] == ["cat", "dog"]
        # cat taken for cat; cat taken for dog; dog missed; a cat where nothing is (and a second cat on the
        # first one, already taken: a false positive); the crowd region's detection ignored.
        np.testing.assert_array_equal(cm["matrix"], [[1, 1, 0], [0, 0, 1], [2, 0, 0]])


@pytest.mark.skipif("hotcoco" not in ENGINES, reason="hotcoco is in the test extra")
@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_confusion_matrix_agrees_with_hotcoco(seed: int) -> None:
    import hotcoco

    gt, dt = dataset(seed)
    gt["annotations"] = [a for a in gt["annotations"] if not a["iscrowd"]]
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = hotcoco.COCO(gt)
        ev = hotcoco.COCOeval(coco_gt, coco_gt.loadRes(dt) if dt else coco_gt.loadRes([]), "segm")
        theirs = ev.confusion_matrix(iou_thr=0.5, max_det=100)
    ours = sm.confusion_matrix(gt, dt)
    np.testing.assert_array_equal(ours["matrix"], np.asarray(theirs["matrix"], np.int64))
