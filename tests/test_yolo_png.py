"""YOLO labels and instance-id PNGs, both ways, to the same pixels."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

import segmask as sm
from tests.helpers import generated_shapes, response_of, sample, shapes_response


def test_yolo_labels_round_trip_to_the_same_pixels(tmp_path: Path) -> None:
    masks = generated_shapes()
    preds = sm.Predictions.from_response(shapes_response(masks))
    report = sm.to_yolo([("img_a.jpg", preds)], tmp_path)
    assert report.polygons == len(masks) and report.approximate == 0
    assert (tmp_path / "classes.txt").read_text().split() == report.categories == ["c0", "c1", "c2"]
    [(name, back)] = sm.from_yolo(tmp_path, (40, 60))  # classes.txt is read
    assert name == "img_a" and back.rule == "coco" and back.class_name.tolist() == preds.class_name.tolist()
    np.testing.assert_array_equal(back.masks().to_dense(), masks)
    first = (tmp_path / "img_a.txt").read_text().splitlines()[0].split()
    assert first[0] == "0" and all(0 <= float(v) <= 1 for v in first[1:])
    [(_, plain)] = sm.from_yolo(tmp_path / "img_a.txt", (40, 60), categories=["x", "y", "z"])
    assert plain.class_name.tolist()[:3] == ["x", "y", "z"]


def test_yolo_approximates_holes_and_says_so(tmp_path: Path) -> None:
    ring = np.zeros((30, 30), bool)
    ring[5:25, 5:25] = True
    ring[10:20, 10:20] = False
    preds = response_of([{"x": 1, "y": 1, "width": 1, "height": 1, "class": "a", "confidence": 0.9,
                          "rle": sm.encode(np.pad(ring, ((0, 330), (0, 450))))[0]}])  # fmt: skip
    report = sm.to_yolo([("r.png", preds)], tmp_path)
    assert report.approximate == 1 and report.polygons == 0
    [(_, back)] = sm.from_yolo(tmp_path / "r.txt", (360, 480))
    np.testing.assert_array_equal(back.masks().to_dense()[0][:30, :30], np.pad(np.ones((20, 20), bool), 5))


@pytest.mark.parametrize(
    ("text", "message"),
    [("0 0.1 0.1 0.2", "a polygon needs 3 or more x, y pairs, got 1"), ("0 a b", "expected numbers"),
     ("1.5 0.1 0.1 0.2 0.2 0.3 0.1", "the class 1.5 is not a non-negative integer"),
     ("0 0.1 0.1 0.2 0.2 0.3 0.1 2.5", "an odd count means a confidence last, but 2.5 is not in [0, 1]"),
     ("0 0.1 0.1 0.2 0.2 1.3 0.1", "coordinates must be normalised to [0, 1]"),
     ("0 0.1 0.1 0.2 0.2 nan 0.1", "values must be finite")],
)  # fmt: skip
def test_bad_yolo_lines_name_the_file_and_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "x.txt"
    path.write_text("0 0.1 0.1 0.2 0.1 0.2 0.2\n" + text + "\n")
    with pytest.raises(sm.ResponseFormatError) as info:
        sm.from_yolo(path, (10, 10))
    assert f"x.txt line 2: {message}" in str(info.value)


def test_a_class_list_is_read_as_a_label_file_is_bounded_and_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "x.txt").write_text("0 0.1 0.1 0.2 0.1 0.2 0.2\n")
    (tmp_path / "classes.txt").write_bytes(b"cat\n\xff\xfe\n")
    with pytest.raises(sm.ResponseFormatError, match=r"classes\.txt: not UTF-8 text"):
        sm.from_yolo(tmp_path, (10, 10))
    (tmp_path / "classes.txt").write_text("cat\n" * 40)
    monkeypatch.setattr(sm.yolo, "MAX_LABEL_BYTES", 100)
    with pytest.raises(sm.ResponseFormatError, match=r"classes\.txt: larger than 100 bytes; not a class list"):
        sm.from_yolo(tmp_path, (10, 10))


def test_yolo_predictions_carry_a_confidence_last(tmp_path: Path) -> None:
    path = tmp_path / "p.txt"
    path.write_text("2 0.1 0.1 0.5 0.1 0.5 0.5 0.87\n")
    [(_, preds)] = sm.from_yolo(path, (10, 10))
    assert preds.confidence.tolist() == [0.87] and preds.class_name.tolist() == ["2"]


def test_yolo_sizes_per_file_and_folders(tmp_path: Path) -> None:
    preds = sample()
    sm.to_yolo([("a/x.jpg", preds), ("b/x.jpg", preds[:2])], tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.txt")) == [
        "a/x.txt", "b/x.txt", "classes.txt"]  # fmt: skip
    back = sm.from_yolo(tmp_path, {"a/x": (360, 480), "b/x.txt": (360, 480)})
    assert [(n, len(p)) for n, p in back] == [("a/x", len(preds)), ("b/x", 2)]
    with pytest.raises(sm.InputError, match="image_size has no size for 'b/x'"):
        sm.from_yolo(tmp_path, {"a/x": (360, 480)})


def test_png_masks_round_trip_8_and_16_bit(tmp_path: Path) -> None:
    truth = sample()
    report = sm.to_png([("sample.jpg", truth)], tmp_path)
    [(name, back)] = sm.from_png(tmp_path / "sample.png")
    assert name == "sample" and cv2.imread(str(tmp_path / "sample.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint8
    expected = truth.masks().to_dense()
    overlap = int((expected.sum(axis=0) > 1).sum())  # the two coins overlap: the later one wins there
    assert report.overwritten_pixels == overlap > 0
    assert back.detection_id.tolist() == [str(i) for i in range(1, len(truth) + 1)]
    np.testing.assert_array_equal(back.masks().to_dense()[1:], expected[1:])
    many = np.zeros((300, 20, 20), bool)
    for i in range(300):
        many[i].flat[i] = True
    preds = sm.Predictions.from_response({"image": {"width": 20, "height": 20}, "predictions": [
        {"x": 1, "y": 1, "width": 1, "height": 1, "class": "a", "confidence": 0.5, "rle": r} for r in sm.encode(many)
    ]})  # fmt: skip
    sm.to_png([("many.png", preds)], tmp_path)
    assert cv2.imread(str(tmp_path / "many.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    [(_, again)] = sm.from_png(tmp_path / "many.png")
    np.testing.assert_array_equal(again.masks().to_dense(), many)
    assert again.detection_id.tolist() == [str(i) for i in range(1, 301)]
