"""IoU and box IoU against pycocotools, iscrowd included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pycocotools import mask as pcm

import segmask as sm
from tests.strategies import dense_masks, polygons_and_size


def pcc(masks: sm.Masks) -> list[dict]:
    return [{"size": r["size"], "counts": r["counts"].encode()} for r in masks.to_rle()]


@given(polygons_and_size(max_n=8), polygons_and_size(max_n=8), st.data())
def test_iou_equals_pycocotools(case_a: tuple, case_b: tuple, data: st.DataObject) -> None:
    size = case_a[1]
    a = sm.rasterize(case_a[0], size, rule=data.draw(st.sampled_from(sm.RULES)))
    b = sm.rasterize(case_b[0], size, rule="coco")
    crowd = np.array(data.draw(st.lists(st.booleans(), min_size=len(b), max_size=len(b))))
    ours = sm.iou(a, b, iscrowd=crowd)
    ref = pcm.iou(pcc(a), pcc(b), crowd.astype(np.uint8).tolist())
    assert ours.shape == (len(a), len(b)) and ours.dtype == np.float64
    np.testing.assert_array_equal(ours, np.asarray(ref).reshape(len(a), len(b)))
    # every input form gives the same numbers
    np.testing.assert_array_equal(sm.iou(a.to_rle(), pcc(b), iscrowd=crowd), ours)
    np.testing.assert_array_equal(sm.iou(a.to_dense(), b.to_dense(), iscrowd=crowd), ours)


@given(dense_masks(max_n=8), st.data())
def test_iou_of_noisy_masks_equals_pycocotools(dense: np.ndarray, data: st.DataObject) -> None:
    # Noise and sparse pixels: many runs per column, so the sweep starts and ends inside columns
    # and skips runs on both sides; the same set on both sides takes the mirrored path.
    split = data.draw(st.integers(0, len(dense)))
    a, b = sm.Masks.from_dense(dense[:split]), sm.Masks.from_dense(dense[split:])
    crowd = np.array(data.draw(st.lists(st.booleans(), min_size=len(b), max_size=len(b))), dtype=np.uint8)
    ref = np.asarray(pcm.iou(pcc(a), pcc(b), crowd.tolist())).reshape(len(a), len(b))
    np.testing.assert_array_equal(sm.iou(a, b, iscrowd=crowd), ref)
    whole = sm.Masks.from_dense(dense)
    ref_same = np.asarray(pcm.iou(pcc(whole), pcc(whole), [0] * len(whole))).reshape(len(whole), len(whole))
    np.testing.assert_array_equal(sm.iou(whole, whole), ref_same)


def speckled_and_solid(rng: np.random.Generator, n: int, h: int, w: int) -> list[dict]:
    """pycocotools RLEs of boxes filled with speckle (many runs a column: counted on bit crops) or solid."""
    out = []
    for _ in range(n):
        bh, bw = int(rng.integers(1, h // 2)), int(rng.integers(1, w // 2))
        y, x = int(rng.integers(0, h - bh)), int(rng.integers(0, w - bw))
        m = np.zeros((h, w), np.uint8, order="F")
        m[y : y + bh, x : x + bw] = rng.random((bh, bw)) < rng.choice([0.03, 0.3, 0.5, 1.0])
        out.append(pcm.encode(m))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_iou_and_nms_of_speckled_masks_equal_pycocotools(seed: int) -> None:
    # Tall boxes (several 64-row words a column, starting anywhere) with speckle, solid and mixed pairs.
    rng = np.random.default_rng(seed)
    a, b = speckled_and_solid(rng, 40, 300, 200), speckled_and_solid(rng, 30, 300, 200)
    crowd = rng.random(len(b)) < 0.3
    ours = sm.iou(a, b, iscrowd=crowd)
    assert np.array_equal(ours, np.asarray(pcm.iou(a, b, crowd.astype(np.uint8).tolist())))
    assert np.array_equal(sm.iou(a, a), np.asarray(pcm.iou(a, a, [0] * len(a))))
    # nms: greedy on pycocotools' matrix
    full, scores = np.asarray(pcm.iou(a, a, [0] * len(a))), rng.random(len(a))
    keep: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        if all(full[k, i] <= 0.1 for k in keep):
            keep.append(int(i))
    assert sm.nms(a, scores, iou_threshold=0.1).tolist() == keep


@pytest.mark.parametrize("seed", range(3))
def test_iou_of_runs_with_empty_runs_inside_is_exact(seed: int) -> None:
    # Uncompressed COCO counts may hold runs of length 0 anywhere. pycocotools' iou sweeps while the
    # current runs of the two masks have pixels left, so it stops early where both end together and
    # an empty run follows ([5, 0, 5, 10] with itself: 0 where 1 is right); segmask counts every
    # pixel: here against the dense arithmetic.
    rng = np.random.default_rng(seed)
    h, w, n = 60, 30, 12
    runs = [np.diff(np.concatenate([[0], np.sort(rng.integers(0, h * w + 1, 40)), [h * w]])) for _ in range(n)]
    masks = sm.Masks.from_runs(np.concatenate(runs), np.cumsum([0] + [len(r) for r in runs]), (h, w))
    assert any((r[1:-1] == 0).any() for r in runs)
    crowd = rng.random(n) < 0.5
    dense = masks.to_dense().reshape(n, -1).astype(np.int64)
    inter, area = dense @ dense.T, dense.sum(1)
    union = np.where(crowd[None, :], area[:, None], area[:, None] + area[None, :] - inter)
    brute = np.divide(inter, union, out=np.zeros((n, n)), where=inter > 0)
    np.testing.assert_array_equal(sm.iou(masks, masks, iscrowd=crowd), brute)


def test_iou_on_overlapping_shapes_is_exact() -> None:
    dense = np.zeros((3, 10, 10), bool)
    dense[0, 0:4, 0:5] = True  # 20 px
    dense[1, 2:6, 3:8] = True  # 20 px, 4 shared with 0
    dense[2, 8:, 8:] = True  # apart
    out = sm.iou(dense, dense, iscrowd=[False, True, False])
    assert out[0, 1] == 4 / 20  # b = mask 1 is a crowd: |a & b| / |a|
    assert out[1, 0] == 4 / 36  # b = mask 0 is not: |a & b| / |a | b|
    assert out[0, 2] == 0.0 and np.diag(out).tolist() == [1.0, 1.0, 1.0]


def test_iou_shapes_for_empty_sets() -> None:
    m = sm.Masks.from_dense(np.ones((2, 3, 3), bool))
    assert sm.iou(m, []).shape == (2, 0)
    assert sm.iou([], m).shape == (0, 2)
    assert sm.iou(sm.Masks.empty((3, 3)), sm.Masks.empty((3, 3))).shape == (0, 0)
    assert sm.iou(m, sm.Masks.empty((3, 3), n=2)).tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_iou_rejects_mixed_sizes_and_bad_iscrowd() -> None:
    a = sm.Masks.from_dense(np.ones((1, 3, 3), bool))
    b = sm.Masks.from_dense(np.ones((1, 3, 4), bool))
    with pytest.raises(sm.MaskError, match=r"a has image size \(3, 3\) but b has \(3, 4\)"):
        sm.iou(a, b)
    with pytest.raises(sm.InputError, match=r"iscrowd must be 1 bools"):
        sm.iou(a, a, iscrowd=[True, False])
    with pytest.raises(sm.MaskError, match="a must be Masks"):
        sm.iou("masks", a)  # type: ignore[arg-type]


boxes = st.lists(
    st.tuples(*[st.floats(0, 50, allow_nan=False) for _ in range(2)], *[st.floats(0, 30) for _ in range(2)]),
    max_size=12,
)


@given(boxes, boxes, st.data())
def test_box_iou_equals_pycocotools(a: list, b: list, data: st.DataObject) -> None:
    crowd = data.draw(st.lists(st.booleans(), min_size=len(b), max_size=len(b)))
    ours = sm.box_iou(a, b, iscrowd=crowd)
    assert ours.shape == (len(a), len(b))
    if a and b:
        ref = pcm.iou(np.array(a, float), np.array(b, float), np.array(crowd, np.uint8))
        np.testing.assert_array_equal(ours, ref)


@pytest.mark.parametrize(
    ("boxes", "message"),
    [([[0, 0, 1]], "must be (N, 4)"), ([[0, 0, -1, 2]], "negative width"), ([[0, np.nan, 1, 1]], "not finite")],
)
def test_box_iou_bad_boxes(boxes: list, message: str) -> None:
    with pytest.raises(sm.InputError) as info:
        sm.box_iou(boxes, [[0, 0, 1, 1]])
    assert message in str(info.value)
