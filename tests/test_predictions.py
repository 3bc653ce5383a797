"""Predictions: what the real API sends, what it sometimes sends, and what it must not."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import segmask as sm


def prediction(**over: Any) -> dict[str, Any]:
    p = {
        "x": 15.5, "y": 12.0, "width": 11, "height": 8, "confidence": 0.8, "class": "cat", "class_id": 3,
        "detection_id": "6f2c",
        "points": [{"x": 10, "y": 8}, {"x": 20, "y": 8}, {"x": 20, "y": 16}, {"x": 10, "y": 16}],
    }  # fmt: skip
    p.update(over)
    return {k: v for k, v in p.items() if v is not ...}


def response(*preds: dict[str, Any], **top: Any) -> dict[str, Any]:
    out = {"predictions": list(preds), "image": {"width": 40, "height": 30}}
    out.update(top)
    return {k: v for k, v in out.items() if v is not ...}


def test_columns_and_conventions() -> None:
    preds = sm.Predictions.from_response(response(prediction(), prediction(confidence=0.3, **{"class": "dog"})))
    assert len(preds) == 2 and preds.image_size == (30, 40)
    np.testing.assert_array_equal(preds.xyxy[0], [10.0, 8.0, 21.0, 16.0])
    assert preds.xyxy.dtype == np.float64 and preds.confidence.dtype == np.float64
    assert preds.class_name.tolist() == ["cat", "dog"] and preds.class_id.dtype == np.int64
    assert preds.detection_id.tolist() == ["6f2c", "6f2c"]
    assert preds.polygons[0].shape == (4, 2) and preds.polygons[0].dtype == np.float64
    assert preds.masks().area.tolist() == [11 * 9, 11 * 9]  # contour rule: boundary included
    assert preds.masks(rule="coco").area.tolist() == [10 * 8, 10 * 8]


def test_optional_fields_may_be_missing_or_null() -> None:
    bare = prediction(class_id=..., detection_id=...)
    nulls = prediction(class_id=None, detection_id=None, class_confidence=None, parent_id=None)
    preds = sm.Predictions.from_response(response(bare, nulls, image=..., time=None, inference_id=None))
    assert preds.image_size is None and preds.class_id.tolist() == [-1, -1]
    assert preds.detection_id.tolist() == [None, None]
    with pytest.raises(sm.SegmaskError, match="pass image_size"):
        preds.masks()
    assert preds.masks(image_size=(30, 40)).area.tolist() == [99, 99]


def test_to_dict_is_lossless_and_keeps_unknown_fields() -> None:
    original = response(
        prediction(parent_id="p1", class_confidence=None, tracker={"id": 7}),
        prediction(points=[{"x": 1.5, "y": 2.25}, {"x": 3, "y": 4}, {"x": 0, "y": 9}]),
        time=0.03, inference_id="abc", visualization=None, frame_id=None,
    )  # fmt: skip
    preds = sm.Predictions.from_response(copy.deepcopy(original))
    assert preds.to_dict() == original
    assert sm.Predictions.from_response(json.dumps(preds.to_dict())).to_dict() == original


def test_rle_variant_and_its_alias() -> None:
    ring = np.zeros((30, 40), bool)
    ring[5:15, 5:15] = True
    ring[8:12, 8:12] = False  # a hole, which polygons cannot hold
    ring[20:25, 30:35] = True  # and a second part
    rle = sm.encode(ring)[0]
    preds = sm.Predictions.from_response(
        response(prediction(points=..., rle=rle), prediction(points=..., rle_mask=rle), prediction())
    )
    masks = preds.masks()
    np.testing.assert_array_equal(masks.to_dense()[0], ring)
    np.testing.assert_array_equal(masks.to_dense()[1], ring)
    assert masks.area[2] == 99 and preds.has_mask.all()
    written = preds.to_dict()["predictions"]
    assert written[0]["rle"] == written[1]["rle"] == rle  # the alias is read, the API's own name written
    again = sm.Predictions.from_response(preds.to_dict()).masks()
    np.testing.assert_array_equal(again.to_dense(), masks.to_dense())


def test_short_polygons_keep_their_box_and_do_not_drop_other_masks() -> None:
    """supervision drops every mask of the batch here."""
    short = prediction(points=[{"x": 3, "y": 3}, {"x": 6, "y": 3}])
    preds = sm.Predictions.from_response(response(prediction(), short, prediction(points=[]), prediction(points=...)))
    assert preds.has_mask.tolist() == [True, False, False, False]
    assert preds.masks().area.tolist() == [99, 0, 0, 0]
    assert preds.xyxy.shape == (4, 4)
    assert preds.to_dict()["predictions"][1]["points"] == short["points"]


def test_empty_and_batch_responses() -> None:
    empty = sm.Predictions.from_response({"predictions": []})
    assert len(empty) == 0 and empty.xyxy.shape == (0, 4) and len(empty.masks(image_size=(4, 4))) == 0
    with pytest.raises(sm.ResponseFormatError, match=r"a list of 2 items, not one response: parse each with "
                       r"Predictions.from_response\(item\)"):  # fmt: skip
        sm.Predictions.from_response([response(prediction()), response()])


def test_json_text_bytes_and_paths(tmp_path: Path) -> None:
    r = response(prediction())
    path = tmp_path / "r.json"
    path.write_text(json.dumps(r))
    for source in (json.dumps(r), json.dumps(r).encode(), path, str(path), "  \n" + json.dumps(r)):
        assert sm.Predictions.from_response(source).to_dict() == r


def test_indexing_and_filter() -> None:
    preds = sm.Predictions.from_response(
        response(prediction(), prediction(confidence=0.2), prediction(**{"class": "dog", "confidence": 0.9}))
    )
    assert preds.filter(min_confidence=0.5).confidence.tolist() == [0.8, 0.9]
    assert preds.filter(classes=["dog"]).class_name.tolist() == ["dog"]
    assert preds.filter(min_confidence=0.85, classes=["cat"]).confidence.shape == (0,)
    assert preds[::-1].confidence.tolist() == [0.9, 0.2, 0.8]
    assert len(preds[1]) == 1 and preds[preds.confidence > 0.5].class_name.tolist() == ["cat", "dog"]
    with pytest.raises(sm.SegmaskError, match="list of class names"):
        preds.filter(classes="cat")
    with pytest.raises(IndexError):
        preds[3]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 12), min_size=1, max_size=12), st.data())
def test_indexing_carries_each_prediction_its_own_points(sizes: list[int], data: st.DataObject) -> None:
    rng = np.random.default_rng(len(sizes))
    preds = sm.Predictions.from_response(response(*[
        prediction(points=[{"x": float(x), "y": float(y)} for x, y in rng.integers(0, 50, (k, 2))], confidence=i / 20)
        for i, k in enumerate(sizes)]))  # fmt: skip
    n = len(sizes)
    idx = data.draw(st.one_of(
        st.lists(st.integers(-n, n - 1), max_size=2 * n).map(lambda v: np.array(v, dtype=np.int64)),
        st.builds(slice, st.none() | st.integers(-n, n), st.none() | st.integers(-n, n),
                  st.sampled_from([None, 1, 2, -1, -3])),
        st.lists(st.booleans(), min_size=n, max_size=n).map(np.array)))  # fmt: skip
    rows = np.arange(n)[idx]
    picked = preds[idx]
    assert picked.confidence.tolist() == preds.confidence[rows].tolist()
    before, after = preds.polygons, picked.polygons
    for i, j in enumerate(rows.tolist()):
        if before[j] is None:
            assert after[i] is None
        else:
            np.testing.assert_array_equal(after[i], before[j])


def test_immutable() -> None:
    preds = sm.Predictions.from_response(response(prediction()))
    with pytest.raises(ValueError, match="read-only"):
        preds.confidence[0] = 1.0


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            response(
                prediction(),
                prediction(),
                prediction(),
                prediction(points=[{"x": 1, "y": 1}] * 7 + [{"x": "abc", "y": 1}]),
            ),
            "predictions[3].points[7].x is 'abc', expected a number",
        ),
        (
            response(prediction(points=[{"x": 1, "y": 1}, {"y": 2}, {"x": 3, "y": 3}])),
            "predictions[0].points[1].x is missing",
        ),
        (
            response(prediction(points=[{"x": 1, "y": 1}, [2, 2], {"x": 3, "y": 3}])),
            "predictions[0].points[1] is [2, 2]",
        ),
        (response(prediction(points=[{"x": 1, "y": True}, {"x": 2, "y": 2}, {"x": 3, "y": 3}])), "points[0].y is True"),
        (response(prediction(points=[{"x": 1, "y": "2"}, {"x": 2, "y": 2}, {"x": 3, "y": 3}])), "points[0].y is '2'"),
        (
            response(prediction(points=[{"x": 1, "y": float("nan")}, {"x": 2, "y": 2}, {"x": 3, "y": 3}])),
            "points[0].y is nan",
        ),
        (
            response(prediction(points=[{"x": 1e12, "y": 1}, {"x": 2, "y": 2}, {"x": 3, "y": 3}])),
            "beyond the supported",
        ),
        (response(prediction(points="1,2,3")), "predictions[0].points is '1,2,3', expected a list"),
        (response(prediction(x=...)), "predictions[0].x is missing, expected a number"),
        (response(prediction(confidence=40)), "predictions[0].confidence is 40, expected a value in [0, 1]"),
        (response(prediction(width=-3)), "negative width"),
        (response(prediction(**{"class": 3})), "predictions[0].class is 3, expected a string"),
        (response(prediction(class_id="3")), "predictions[0].class_id is '3'"),
        (response(prediction(detection_id=5)), "predictions[0].detection_id is 5"),
        (
            response(prediction(points=..., rle={"size": [30, 40], "counts": "0"})),
            "predictions[0].rle: counts sum to 0",
        ),
        (response(prediction(), image={"width": 0, "height": 3}), "image.width is 0"),
        (response(prediction(), image=[40, 30]), "image is [40, 30], expected an object"),
        ({"predictions": {"x": 1}}, "predictions is {'x': 1}, expected a list"),
        ({"preds": []}, "predictions is missing"),
        ([response(), 7], "a list of 2 items, not one response"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_responses_name_the_json_path(bad: Any, message: str) -> None:
    with pytest.raises(sm.ResponseFormatError) as info:
        sm.Predictions.from_response(bad)
    assert message in str(info.value)


def test_bad_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(response(prediction(confidence="high"))))
    with pytest.raises(sm.ResponseFormatError, match=r"bad.json: predictions\[0\].confidence is 'high'"):
        sm.Predictions.from_response(path)
