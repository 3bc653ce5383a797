"""COCO export, import and evaluation, against pycocotools' own loader and COCOeval."""

from __future__ import annotations

import contextlib
import io
import json
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as pcm
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import segmask as sm


def sample() -> sm.Predictions:
    return sm.Predictions.from_response((resources.files("segmask") / "data" / "sample_response.json").read_bytes())


def load_coco(data: dict) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = json.loads(json.dumps(data))  # through JSON, as from a file
        coco.createIndex()
    return coco


def shapes_response(masks: np.ndarray) -> dict:
    """A response whose polygons are each mask's outer contour, as the server makes them.

    Lines and single pixels give 1- or 2-point contours: their points are
    repeated into a (degenerate) triangle, which the contour rule fills.
    """
    predictions = []
    for i, m in enumerate(masks):
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        c = max(contours, key=len)[:, 0, :]
        c = np.resize(c, (max(len(c), 3), 2))
        predictions.append({"x": 1, "y": 1, "width": 1, "height": 1, "class": f"c{i % 3}", "confidence": 0.3 + i / 200,
                            "points": [{"x": int(x), "y": int(y)} for x, y in c]})  # fmt: skip
    h, w = masks.shape[1:]
    return {"image": {"width": w, "height": h}, "predictions": predictions}


def generated_shapes() -> np.ndarray:
    """Thin, concave, touching the border, one pixel wide, one pixel: the hard cases, and blobs."""
    h, w = 40, 60
    drawn = [np.zeros((h, w), np.uint8) for _ in range(8)]
    drawn[0][10, 5:50] = 1  # one pixel high
    drawn[1][3:35, 20] = 1  # one pixel wide
    cv2.line(drawn[2], (2, 2), (30, 35), 1, 1)  # a thin diagonal
    drawn[3][7, 7] = 1  # one pixel
    drawn[4][0:12, 0:9] = 1  # in the corner
    drawn[5][30:40, 40:60] = 1  # the other corner
    u_shape = [[5, 5], [40, 5], [40, 30], [30, 30], [30, 12], [15, 12], [15, 30], [5, 30]]
    cv2.fillPoly(drawn[6], [np.array(u_shape)], 1)  # concave
    cv2.fillPoly(drawn[7], [np.array([[10, 20], [50, 2], [25, 22], [55, 38]])], 1)  # sharp corners
    rng = np.random.default_rng(5)
    for _ in range(60):
        noise = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), rng.uniform(0.8, 4))
        blob = (noise > np.quantile(noise, rng.uniform(0.5, 0.9))).astype(np.uint8)
        _, labels = cv2.connectedComponents(blob, connectivity=8)
        big = 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
        contours, _ = cv2.findContours((labels == big).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        filled = np.zeros((h, w), np.uint8)
        cv2.drawContours(filled, contours, -1, 1, -1)  # outer contour only: no holes
        drawn.append(filled)
    return np.stack(drawn).astype(bool)


def response_of(predictions: list[dict]) -> sm.Predictions:
    return sm.Predictions.from_response({"image": {"width": 480, "height": 360}, "predictions": predictions})


def test_polygon_export_round_trips_every_generated_shape_through_pycocotools() -> None:
    masks = generated_shapes()
    preds = sm.Predictions.from_response(shapes_response(masks))
    np.testing.assert_array_equal(preds.masks().to_dense(), masks)  # the contour rule gives them back
    data = sm.to_coco([("a.png", preds)], segmentation="polygon")
    assert data["info"]["segmask"] == {"polygons": len(masks), "rles": 0, "without_mask": 0}  # all as polygons
    coco = load_coco(data)
    for ann, mask in zip(coco.loadAnns(coco.getAnnIds()), masks, strict=True):
        assert isinstance(ann["segmentation"], list)
        np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), mask)
        assert ann["area"] == int(mask.sum()) and isinstance(ann["area"], int)
    # the raw contour, written as most tools write it, loses pixels under pycocotools' rule
    raw = [
        np.ravel([[p["x"], p["y"]] for p in q["points"]]).astype(float).tolist()
        for q in shapes_response(masks)["predictions"]
    ]
    lost = [pcm.decode(pcm.frPyObjects([r], 40, 60)[0]).sum() < m.sum() for r, m in zip(raw, masks, strict=True)]
    assert sum(lost) > len(masks) / 2


def test_masks_with_holes_or_parts_are_written_as_rle() -> None:
    ring = np.zeros((30, 30), bool)
    ring[5:25, 5:25] = True
    ring[10:20, 10:20] = False
    two = np.zeros((30, 30), bool)
    two[2:5, 2:5] = True
    two[20:25, 20:25] = True
    preds = sm.Predictions.from_response({"image": {"width": 30, "height": 30}, "predictions": [
        {"x": 1, "y": 1, "width": 1, "height": 1, "class": "a", "confidence": 0.9, "rle": sm.encode(m)[0]}
        for m in (ring, two)
    ]})  # fmt: skip
    data = sm.to_coco([("x.png", preds)])
    assert data["info"]["segmask"]["rles"] == 2
    coco = load_coco(data)
    for ann, mask in zip(coco.loadAnns(coco.getAnnIds()), (ring, two), strict=True):
        np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), mask)


def test_to_coco_shape_categories_and_rle_mode() -> None:
    preds = sample()
    data = sm.to_coco([("sample.png", preds), ("empty.png", preds[[]])], segmentation="rle")
    json.dumps(data)
    assert [c["name"] for c in data["categories"]] == sorted(set(preds.class_name.tolist()))
    assert [im["file_name"] for im in data["images"]] == ["sample.png", "empty.png"]
    assert data["images"][0]["height"] == 360 and data["info"]["segmask"]["rles"] == len(preds)
    coco = load_coco(data)
    masks = preds.masks()
    for ann, expected in zip(coco.loadAnns(coco.getAnnIds()), masks.to_dense(), strict=True):
        np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), expected)
    with pytest.raises(sm.InputError, match=r"has class 'coin', which is not in categories"):
        sm.to_coco([("s.png", preds)], categories=["card"])
    with pytest.raises(sm.InputError, match=r"segmentation must be one of 'polygon', 'rle'"):
        sm.to_coco([("s.png", preds)], segmentation="mask")


def test_predictions_without_masks_are_counted_not_written() -> None:
    response = {"image": {"width": 9, "height": 9}, "predictions": [
        {"x": 4, "y": 4, "width": 2, "height": 2, "class": "a", "confidence": 0.9, "points": [{"x": 3, "y": 3}]},
        {"x": 4, "y": 4, "width": 2, "height": 2, "class": "a", "confidence": 0.8,
         "points": [{"x": 3, "y": 3}, {"x": 5, "y": 3}, {"x": 5, "y": 5}]},
    ]}  # fmt: skip
    data = sm.to_coco([("a.png", sm.Predictions.from_response(response))])
    assert len(data["annotations"]) == 1 and data["info"]["segmask"]["without_mask"] == 1


def test_from_coco_reads_polygons_rle_crowds_and_boxes(tmp_path: Path) -> None:
    crowd = np.zeros((20, 30), bool)
    crowd[2:8, 3:20] = True
    rle = pcm.encode(np.asfortranarray(crowd.astype(np.uint8)))
    data = {
        "images": [{"id": 7, "file_name": "a.png", "height": 20, "width": 30}],
        "categories": [{"id": 3, "name": "cat"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 3, "bbox": [1, 1, 5, 5], "area": 20, "iscrowd": 0,
             "segmentation": [[1.2, 1.1, 6.3, 1.0, 6.2, 5.9, 1.0, 6.1], [10, 10, 14, 10, 12, 15]]},
            {"id": 2, "image_id": 7, "category_id": 3, "bbox": [3, 2, 17, 6], "area": 102, "iscrowd": 1,
             "segmentation": {"size": [20, 30], "counts": rle["counts"].decode()}},
            {"id": 3, "image_id": 7, "category_id": 3, "bbox": [0, 0, 4, 4], "area": 16, "iscrowd": 0,
             "segmentation": []},
        ],
    }  # fmt: skip
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(data))
    [(name, preds)] = sm.from_coco(path)
    assert name == "a.png" and preds.rule == "coco" and len(preds) == 3
    assert preds.has_mask.tolist() == [True, True, False]
    assert preds[1].to_dict()["predictions"][0]["iscrowd"] == 1
    coco = load_coco(data)
    dense = preds.masks().to_dense()
    for k, ann in enumerate(coco.loadAnns([1, 2])):
        np.testing.assert_array_equal(dense[k], coco.annToMask(ann).astype(bool))
    np.testing.assert_array_equal(preds.xyxy[0], [1, 1, 6, 6])
    data["annotations"][0]["segmentation"] = [[1, 1, 5, 5]]
    with pytest.raises(sm.ResponseFormatError, match=r"annotations\[0\].segmentation\[0\].*would read 4 as a box"):
        sm.from_coco(data)


def _perturbed(preds: sm.Predictions, seed: int) -> list[dict]:
    """Predictions near the ground truth: eroded, dilated or moved masks, some dropped, one spurious."""
    rng = np.random.default_rng(seed)
    out = []
    for i, mask in enumerate(preds.masks().to_dense()):
        if rng.random() < 0.2:
            continue
        m = mask.astype(np.uint8)
        op = rng.integers(0, 3)
        m = (
            cv2.erode(m, np.ones((3, 3), np.uint8))
            if op == 0
            else cv2.dilate(m, np.ones((5, 5), np.uint8))
            if op == 1
            else np.roll(m, 4, axis=1)
        )
        out.append({"x": 1, "y": 1, "width": 1, "height": 1, "class": str(preds.class_name[i]),
                    "confidence": float(rng.uniform(0.3, 1)), "rle": sm.encode(m)[0]})  # fmt: skip
    out.append({"x": 1, "y": 1, "width": 1, "height": 1, "class": "coin", "confidence": 0.99,
                "rle": sm.encode(np.pad(np.ones((20, 20), bool), ((300, 40), (400, 60))))[0]})  # fmt: skip
    return out


def hand_written_cocoeval(gt_path: Path, dt_path: Path, iou_type: str) -> list[float]:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(str(gt_path))
        dt = gt.loadRes(str(dt_path))
        e = COCOeval(gt, dt, iou_type)
        e.evaluate()
        e.accumulate()
        e.summarize()
    return [float(v) for v in e.stats]


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_evaluate_equals_a_hand_written_cocoeval_to_the_last_digit(tmp_path: Path, iou_type: str) -> None:
    truth = sample()
    gt = sm.to_coco([("sample.png", truth), ("second.png", truth[::2])])
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(gt))
    predicted = [
        ("sample.png", response_of(_perturbed(truth, 1))),
        ("second.png", response_of(_perturbed(truth[::2], 2))),
    ]  # fmt: skip
    results = sm.to_coco_results(predicted, {im["file_name"]: im["id"] for im in gt["images"]}, gt["categories"])
    dt_path = tmp_path / "dt.json"
    dt_path.write_text(json.dumps(results))
    expected = hand_written_cocoeval(gt_path, dt_path, iou_type)
    ours = sm.evaluate(gt_path, dt_path, iou_type=iou_type)
    assert [ours[k] for k in sm.METRICS] == expected  # exact, not approximate
    assert 0 < ours["AP"] < 1
    # segmask objects in, the same numbers out
    objects = sm.evaluate([("sample.png", truth), ("second.png", truth[::2])], predicted, iou_type=iou_type)
    assert [objects[k] for k in sm.METRICS] == expected
    assert set(ours["per_class"]) == {c["name"] for c in gt["categories"]}
    assert all(-1 <= v <= 1 for v in ours["per_class"].values())


def test_evaluate_perfect_and_empty_predictions(tmp_path: Path) -> None:
    truth = sample()
    perfect = sm.evaluate([("s.png", truth)], [("s.png", truth)])
    assert perfect["AP"] == 1.0 and perfect["AP50"] == 1.0
    empty = sm.evaluate([("s.png", truth)], [])
    assert empty["AP"] == 0.0
    with pytest.raises(sm.InputError, match="backend must be one of"):
        sm.evaluate([("s.png", truth)], [], backend="fast")


def test_faster_coco_eval_backend_agrees(tmp_path: Path) -> None:
    truth = sample()
    predicted = [("s.png", response_of(_perturbed(truth, 3)))]
    a = sm.evaluate([("s.png", truth)], predicted)
    b = sm.evaluate([("s.png", truth)], predicted, backend="faster_coco_eval")
    np.testing.assert_allclose([b[k] for k in sm.METRICS], [a[k] for k in sm.METRICS], rtol=0, atol=1e-12)


def test_yolo_labels_round_trip_to_the_same_pixels(tmp_path: Path) -> None:
    masks = generated_shapes()
    preds = sm.Predictions.from_response(shapes_response(masks))
    report = sm.to_yolo([("img_a.jpg", preds)], tmp_path)
    assert report["exact"] == len(masks) and report["approximate"] == 0
    assert (tmp_path / "classes.txt").read_text().split() == report["names"] == ["c0", "c1", "c2"]
    back = sm.from_yolo(tmp_path / "img_a.txt", (40, 60), names=report["names"])
    assert back.rule == "coco" and back.class_name.tolist() == preds.class_name.tolist()
    np.testing.assert_array_equal(back.masks().to_dense(), masks)
    first = (tmp_path / "img_a.txt").read_text().splitlines()[0].split()
    assert first[0] == "0" and all(0 <= float(v) <= 1 for v in first[1:])


def test_yolo_approximates_holes_and_says_so(tmp_path: Path) -> None:
    ring = np.zeros((30, 30), bool)
    ring[5:25, 5:25] = True
    ring[10:20, 10:20] = False
    preds = response_of([{"x": 1, "y": 1, "width": 1, "height": 1, "class": "a", "confidence": 0.9,
                          "rle": sm.encode(np.pad(ring, ((0, 330), (0, 450))))[0]}])  # fmt: skip
    report = sm.to_yolo([("r.png", preds)], tmp_path)
    assert report["approximate"] == 1 and report["exact"] == 0
    back = sm.from_yolo(tmp_path / "r.txt", (360, 480)).masks().to_dense()[0]
    np.testing.assert_array_equal(back[:30, :30], np.pad(np.ones((20, 20), bool), 5))  # the hole is filled


@pytest.mark.parametrize(
    ("text", "message"),
    [("0 0.1 0.1 0.2", "a polygon needs 3 or more x, y pairs, got 1"), ("0 a b", "expected numbers"),
     ("1.5 0.1 0.1 0.2 0.2 0.3 0.1", "the class 1.5 is not a non-negative integer")],
)  # fmt: skip
def test_bad_yolo_lines_name_the_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.txt"
    path.write_text("0 0.1 0.1 0.2 0.1 0.2 0.2\n" + text + "\n")
    with pytest.raises(sm.ResponseFormatError, match=f"x.txt line 2: {message}"):
        sm.from_yolo(path, (10, 10))


def test_yolo_predictions_carry_a_confidence_last(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("2 0.1 0.1 0.5 0.1 0.5 0.5 0.87\n")
    preds = sm.from_yolo(path, (10, 10))
    assert preds.confidence.tolist() == [0.87] and preds.class_name.tolist() == ["2"]


def test_png_masks_round_trip_8_and_16_bit(tmp_path: Path) -> None:
    truth = sample()
    report = sm.to_png([("sample.jpg", truth)], tmp_path)
    masks, ids = sm.from_png(tmp_path / "sample.png")
    assert cv2.imread(str(tmp_path / "sample.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint8
    expected = truth.masks().to_dense()
    overlap = int((expected.sum(axis=0) > 1).sum())  # the two coins overlap: the later one wins there
    assert report["overwritten_pixels"] == overlap > 0
    assert ids.tolist() == list(range(1, len(truth) + 1))
    np.testing.assert_array_equal(masks.to_dense()[1:], expected[1:])
    many = np.zeros((300, 20, 20), bool)
    for i in range(300):
        many[i].flat[i] = True
    preds = sm.Predictions.from_response({"image": {"width": 20, "height": 20}, "predictions": [
        {"x": 1, "y": 1, "width": 1, "height": 1, "class": "a", "confidence": 0.5, "rle": r} for r in sm.encode(many)
    ]})  # fmt: skip
    sm.to_png([("many.png", preds)], tmp_path)
    assert cv2.imread(str(tmp_path / "many.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    back, ids = sm.from_png(tmp_path / "many.png")
    np.testing.assert_array_equal(back.to_dense(), many)
    assert ids.tolist() == list(range(1, 301))
