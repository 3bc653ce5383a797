"""NMS against a brute-force reference; masks to polygons and back; set operations on masks."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import shapely
from hypothesis import given
from hypothesis import strategies as st
from pycocotools import mask as pcm

import segmask as sm
from tests.strategies import blob, dense_masks


def brute_nms(dense: np.ndarray, scores: np.ndarray, threshold: float, classes: np.ndarray | None) -> list[int]:
    """The definition, spelled out: dense pixel counts, a plain loop, best score first."""
    n = len(dense)
    order = sorted(range(n), key=lambda i: (-scores[i], i))
    flat = dense.reshape(n, dense.shape[1] * dense.shape[2])
    keep: list[int] = []
    for i in order:
        suppressed = False
        for k in keep:
            if classes is not None and classes[i] != classes[k]:
                continue
            inter = np.logical_and(flat[i], flat[k]).sum()
            union = np.logical_or(flat[i], flat[k]).sum()
            if inter > 0 and inter / union > threshold:
                suppressed = True
                break
        if not suppressed:
            keep.append(i)
    return keep


@given(dense_masks(max_n=8), st.data())
def test_nms_equals_the_brute_force_reference(dense: np.ndarray, data: st.DataObject) -> None:
    n = len(dense)
    scores = np.array(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)), dtype=np.float64)
    threshold = data.draw(st.sampled_from([0.0, 0.1, 0.3, 0.5, 0.7, 1.0]))
    classes = (
        np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))) if data.draw(st.booleans()) else None
    )
    expected = brute_nms(dense, scores, threshold, classes)
    if n == 0:
        assert sm.nms(sm.Masks.empty(dense.shape[1:]), scores, iou_threshold=threshold).tolist() == []
        return
    kept = sm.nms(dense, scores, iou_threshold=threshold, class_id=classes)
    assert kept.dtype == np.int64 and kept.tolist() == expected
    assert sm.nms(sm.encode(dense), scores, iou_threshold=threshold, class_id=classes).tolist() == expected


boxes = st.lists(st.tuples(st.floats(0, 40), st.floats(0, 40), st.floats(0, 20), st.floats(0, 20)), max_size=10)


@given(boxes, st.data())
def test_box_nms_equals_the_brute_force_reference(b: list, data: st.DataObject) -> None:
    n = len(b)
    scores = np.array(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)), dtype=np.float64)
    threshold = data.draw(st.sampled_from([0.0, 0.3, 0.5, 0.9]))
    order = sorted(range(n), key=lambda i: (-scores[i], i))
    keep: list[int] = []
    for i in order:
        ious = [pcm.iou(np.array([b[i]]), np.array([b[k]]), [0])[0][0] for k in keep]
        if not any(v > threshold for v in ious):
            keep.append(i)
    assert sm.box_nms(b, scores, iou_threshold=threshold).tolist() == keep


@pytest.mark.parametrize("base", [0.0, 1e15, 2.0**53, 3e17])
def test_box_nms_of_many_boxes_far_out_equals_the_greedy_reference(base: float) -> None:
    # Many boxes (the sweep over left edges skips most pairs) with left edges where a unit is
    # below or at the float spacing, widths of 0, and edges that touch.
    rng = np.random.default_rng(int(base) % 1000)
    n = 300
    b = np.stack([base + rng.integers(-40, 40, n) * rng.choice([1.0, 2.0, 16.0], n), rng.uniform(0, 30, n),
                  rng.choice([0.0, 1.0, 2.0, 8.0, 32.0], n), rng.uniform(0, 30, n)], axis=1)  # fmt: skip
    scores, classes = rng.random(n), rng.integers(0, 3, n)
    full = np.asarray(pcm.iou(b, b, [0] * n))
    for threshold in (0.0, 0.3):
        for cls in (None, classes):
            keep: list[int] = []
            for i in sorted(range(n), key=lambda i: (-scores[i], i)):
                if not any(full[k, i] > threshold and (cls is None or cls[k] == cls[i]) for k in keep):
                    keep.append(i)
            assert sm.box_nms(b, scores, iou_threshold=threshold, class_id=cls).tolist() == keep


@given(st.lists(st.tuples(*[st.integers(0, 40)] * 2, *[st.integers(0, 20)] * 2), max_size=10), st.data())
def test_box_nms_takes_every_format(b: list, data: st.DataObject) -> None:
    """Whole-pixel boxes convert exactly: each format names the same boxes and keeps the same ones."""
    n = len(b)
    xywh = np.array(b, float).reshape(-1, 4)
    scores = np.array(data.draw(st.lists(st.floats(0, 1), min_size=n, max_size=n)), dtype=np.float64)
    expected = sm.box_nms(xywh, scores).tolist()
    for fmt in ("xyxy", "cxcywh"):
        other = sm.convert_boxes(xywh, source="xywh", target=fmt)
        assert sm.box_nms(other, scores, format=fmt).tolist() == expected
        np.testing.assert_array_equal(sm.box_iou(other, other, format=fmt), sm.box_iou(xywh, xywh))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scores": [0.5]}, "scores must have shape (2,)"),
        ({"scores": [0.5, np.nan]}, "scores[1] is nan, expected a finite number"),
        ({"iou_threshold": 1.5}, "iou_threshold must be a finite number in [0, 1], got 1.5"),
        ({"iou_threshold": "0.5"}, "iou_threshold must be a number, got '0.5'"),
        ({"class_id": [0.5, 1.5]}, "class_id must be 2 integers"),
    ],
)
def test_nms_bad_arguments(kwargs: dict, message: str) -> None:
    args = {"scores": [0.5, 0.4], **kwargs}
    with pytest.raises(sm.InputError) as info:
        sm.nms(np.ones((2, 3, 3), bool), **args)
    assert message in str(info.value)


@given(blob())
def test_masks_to_polygons_and_back_gives_every_pixel(image: np.ndarray) -> None:
    """Holes, islands in holes, many parts, one-pixel specks and lines: all come back."""
    polygons = sm.masks_to_polygons(image[None].astype(bool))
    back = sm.rasterize([shapely.MultiPolygon(polygons[0])], image.shape, rule="contour").to_dense()[0]
    np.testing.assert_array_equal(back, image.astype(bool))


def test_nested_holes_and_islands_round_trip() -> None:
    image = np.zeros((40, 40), np.uint8)
    cv2.rectangle(image, (2, 2), (37, 37), 1, -1)
    cv2.rectangle(image, (6, 6), (33, 33), 0, -1)  # a hole
    cv2.rectangle(image, (10, 10), (29, 29), 1, -1)  # an island in it
    cv2.rectangle(image, (14, 14), (25, 25), 0, -1)  # a hole in the island
    image[19, 19] = 1  # a one-pixel island in that
    polygons = sm.masks_to_polygons(image[None].astype(bool))[0]
    assert len(polygons) == 3 and sorted(len(p.interiors) for p in polygons) == [0, 1, 1]
    back = sm.rasterize([shapely.MultiPolygon(polygons)], (40, 40)).to_dense()[0]
    np.testing.assert_array_equal(back, image.astype(bool))


def test_rle_predictions_with_holes_and_parts_go_through_the_same_paths() -> None:
    mask = np.zeros((30, 40), bool)
    mask[5:15, 5:15] = True
    mask[8:12, 8:12] = False
    mask[20:25, 30:35] = True
    response = {"image": {"width": 40, "height": 30}, "predictions": [
        {"x": 10, "y": 10, "width": 10, "height": 10, "class": "a", "confidence": 0.9, "rle": sm.encode(mask)[0]},
    ]}  # fmt: skip
    masks = sm.Predictions.from_response(response).masks()
    [parts] = sm.masks_to_polygons(masks)
    assert len(parts) == 2 and sum(len(p.interiors) for p in parts) == 1
    np.testing.assert_array_equal(sm.rasterize([shapely.MultiPolygon(parts)], (30, 40)).to_dense()[0], mask)
    assert sm.nms(masks, [0.9]).tolist() == [0]


def test_simplify_option_reduces_vertices() -> None:
    image = np.zeros((1, 60, 60), bool)
    cv2.circle(image[0].view(np.uint8), (30, 30), 25, 1, -1)
    exact = sm.masks_to_polygons(image)[0][0]
    simple = sm.masks_to_polygons(image, tolerance=1.0)[0][0]
    assert len(simple.exterior.coords) < len(exact.exterior.coords) / 2
    assert abs(simple.area - exact.area) / exact.area < 0.05


def test_empty_masks_give_no_polygons() -> None:
    assert sm.masks_to_polygons(sm.Masks.empty((5, 5), n=2)) == [[], []]
    assert sm.masks_to_polygons([]) == []


@given(dense_masks(max_n=5), st.data())
def test_set_operations_equal_dense_numpy(a: np.ndarray, data: st.DataObject) -> None:
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    b = rng.random(a.shape) < rng.random()
    if not len(a):
        return
    ma, mb = sm.Masks.from_dense(a), sm.Masks.from_rle(sm.encode(b))
    np.testing.assert_array_equal(ma.union(mb).to_dense(), a | b)
    np.testing.assert_array_equal(ma.intersection(mb).to_dense(), a & b)
    np.testing.assert_array_equal(ma.difference(mb).to_dense(), a & ~b)
    assert ma.union(mb).to_rle() == sm.encode(a | b)
    groups = rng.integers(0, 3, len(a))
    expected = np.stack([a[groups == g].any(axis=0) for g in np.unique(groups)])
    np.testing.assert_array_equal(ma.merge(groups).to_dense(), expected)
    np.testing.assert_array_equal(ma.merge().to_dense()[0], a.any(axis=0))


def test_set_operations_check_their_inputs() -> None:
    a = sm.Masks.from_dense(np.ones((2, 3, 3), bool))
    with pytest.raises(sm.MaskError, match="pairs masks one to one: got 2 masks of"):
        a.union(a[:1])
    with pytest.raises(sm.InputError, match="groups must be 2 integers"):
        a.merge([0.5, 1.0])
    assert len(sm.Masks.empty((3, 3)).merge()) == 1
