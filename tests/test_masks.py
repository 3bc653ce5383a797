"""Masks: areas, boxes, indexing and memory, against pycocotools and dense numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as pcm

import segmask as sm
from tests.strategies import dense_masks, image_sizes


@given(dense_masks())
def test_area_and_boxes_equal_pycocotools(dense: np.ndarray) -> None:
    masks = sm.Masks.from_dense(dense) if len(dense) else sm.Masks.empty(dense.shape[1:])
    assert masks.area.dtype == np.int64 and masks.boxes.dtype == np.int64
    if not len(dense):
        return
    ref = pcm.encode(np.asfortranarray(dense.transpose(1, 2, 0).astype(np.uint8)))
    np.testing.assert_array_equal(masks.area, pcm.area(ref).astype(np.int64))
    np.testing.assert_array_equal(masks.boxes, pcm.toBbox(ref))
    np.testing.assert_array_equal(masks.to_dense(), dense)
    # the same from runs (RLE input) as from crops (dense input)
    via_runs = sm.Masks.from_rle(masks.to_rle())
    np.testing.assert_array_equal(via_runs.area, pcm.area(ref).astype(np.int64))
    np.testing.assert_array_equal(via_runs.boxes, pcm.toBbox(ref))
    np.testing.assert_array_equal(via_runs.to_dense(), dense)
    assert via_runs.to_rle() == masks.to_rle()


def test_crops_cost_the_instances_not_the_image() -> None:
    polygons = [np.array([[x, 100], [x + 50, 100], [x + 50, 150], [x, 150]], float) for x in range(0, 1800, 100)]
    masks = sm.rasterize(polygons, (1080, 1920))
    dense_bytes = len(polygons) * 1080 * 1920
    assert masks.nbytes < dense_bytes / 400
    assert masks.area.tolist() == [51 * 51] * len(polygons)


def test_crop_is_the_box_with_its_corner_and_a_copy() -> None:
    dense = np.zeros((1, 6, 7), bool)
    dense[0, 2:4, 3:6] = True
    dense[0, 3, 3] = False
    masks = sm.Masks.from_dense(dense)
    pixels, (x, y) = masks.crop(0)
    assert (x, y) == (3, 2) and pixels.dtype == bool
    np.testing.assert_array_equal(pixels, dense[0, 2:4, 3:6])
    pixels[0, 0] = False  # its own pixels: the masks do not change
    np.testing.assert_array_equal(masks.to_dense(), dense)
    assert [c.shape for c, _ in sm.Masks.empty((4, 4), n=2).iter_crops()] == [(0, 0), (0, 0)]


@pytest.mark.parametrize(
    "idx",
    [0, -1, 3, slice(1, 4), slice(None, None, -2), [4, 0, 0], np.array([2, 1]), np.arange(5) % 2 == 0, []],
)
def test_indexing_matches_dense_indexing(idx: object) -> None:
    rng = np.random.default_rng(1)
    dense = rng.random((5, 9, 11)) < 0.3
    dense[2] = False
    masks = sm.Masks.from_dense(dense)
    picked = masks[idx]  # type: ignore[index]
    expected = dense[np.atleast_1d(np.arange(5)[idx])] if not isinstance(idx, list) else dense[np.array(idx, int)]
    assert isinstance(picked, sm.Masks)
    np.testing.assert_array_equal(picked.to_dense(), expected)
    np.testing.assert_array_equal(picked.area, expected.sum(axis=(1, 2)))


def test_the_kernels_ragged_selection_refuses_what_it_cannot_copy() -> None:
    from segmask import _kernel

    values, offsets = np.arange(6.0).reshape(3, 2), np.array([0, 1, 3])
    got, got_offsets = _kernel.buffers.take_ragged(values, offsets, np.array([1, 0, 1]))
    np.testing.assert_array_equal(got, values[[1, 2, 0, 1, 2]])
    assert got_offsets.tolist() == [0, 2, 3, 5]
    with pytest.raises(TypeError, match="numbers"):
        _kernel.buffers.take_ragged(np.array([1, "a"], dtype=object), np.array([0, 2]), np.array([0]))
    with pytest.raises(ValueError, match="not rows of values"):
        _kernel.buffers.take_ragged(np.arange(3), np.array([0, 5]), np.array([0]))
    with pytest.raises(IndexError):
        _kernel.buffers.take_ragged(np.arange(3), np.array([0, 3]), np.array([1]))


@pytest.mark.parametrize("idx", [5, -6, [0, 7], np.array([True, False]), 1.5, "a"])
def test_bad_indexes(idx: object) -> None:
    masks = sm.Masks.from_dense(np.zeros((5, 3, 3), bool))
    with pytest.raises(IndexError):
        masks[idx]  # type: ignore[index]


def test_masks_are_immutable() -> None:
    masks = sm.Masks.from_dense(np.ones((2, 3, 3), bool))
    with pytest.raises(ValueError, match="read-only"):
        masks.area[0] = 5
    with pytest.raises(AttributeError):
        masks.image_size = (4, 4)  # type: ignore[misc]


def test_one_masks_shared_by_threads_gives_every_thread_the_same_values() -> None:
    # Boxes and strings are made on first use without a lock: threads that ask at once may each make
    # them, and every one must get pycocotools' values.
    from concurrent.futures import ThreadPoolExecutor

    dense = np.random.default_rng(4).random((300, 120, 90)) < 0.3
    ref = pcm.encode(np.asfortranarray(dense.transpose(1, 2, 0).astype(np.uint8)))
    ref_counts = [r["counts"].decode() for r in ref]
    ref_boxes = pcm.toBbox(ref).astype(np.int64).tolist()

    def ask(masks: sm.Masks) -> tuple[list[str], list[list[int]]]:
        return [r["counts"] for r in masks.to_rle()], masks.boxes.tolist()

    for _ in range(5):
        shared = sm.Masks.from_dense(dense)
        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(ask, [shared] * 8))
        assert all(a == (ref_counts, ref_boxes) for a in answers)


def test_concatenate_and_empty() -> None:
    a = sm.Masks.from_dense(np.eye(4, dtype=bool)[None])
    b = sm.Masks.empty((4, 4), n=2)
    both = sm.Masks.concatenate([a, b, a])
    assert both.area.tolist() == [4, 0, 0, 4]
    with pytest.raises(sm.MaskError, match=r"parts\[1\] has image size \(5, 4\)"):
        sm.Masks.concatenate([a, sm.Masks.empty((5, 4))])
    with pytest.raises(sm.MaskError, match="an empty list of RLEs has no image size"):
        sm.Masks.from_rle([])
    assert len(sm.Masks.from_rle([], image_size=(3, 3))) == 0
    with pytest.raises(sm.MaskError, match=r"the RLEs have size \[4, 4\]"):
        sm.Masks.from_rle(a.to_rle(), image_size=(5, 5))


def test_repr_says_what_it_holds() -> None:
    assert repr(sm.Masks.from_dense(np.eye(3, dtype=bool))) == "Masks(n=1, image_size=(3, 3), pixels=3)"


@settings(max_examples=150, deadline=None)
@given(dense_masks(), st.integers(-50, 50), st.integers(-50, 50), image_sizes)
def test_translate_matches_a_dense_shift(dense: np.ndarray, dx: int, dy: int, size: tuple[int, int]) -> None:
    n, h, w = dense.shape
    big, wide = size
    want = np.zeros((n, big, wide), bool)
    ys, xs = slice(max(0, -dy), max(0, min(h, big - dy))), slice(max(0, -dx), max(0, min(w, wide - dx)))
    part = dense[:, ys, xs]
    want[:, ys.start + dy : ys.start + dy + part.shape[1], xs.start + dx : xs.start + dx + part.shape[2]] = part
    masks = sm.Masks.from_dense(dense) if n else sm.Masks.empty((h, w))
    moved = masks.translate(dx, dy, image_size=size)
    assert moved.image_size == size and len(moved) == n
    np.testing.assert_array_equal(moved.to_dense(), want)
    again = sm.Masks.from_runs(moved.runs.counts, moved.runs.offsets, size)  # the runs are valid, as made
    np.testing.assert_array_equal(again.area, want.sum(axis=(1, 2)))
    np.testing.assert_array_equal(moved.runs.counts, sm.Masks.from_dense(want).runs.counts if n else [])


def test_translate_checks_its_arguments() -> None:
    m = sm.Masks.from_dense(np.ones((1, 2, 2), bool))
    with pytest.raises(sm.InputError, match="dx must be an integer"):
        m.translate(1.5, 0)  # type: ignore[arg-type]
    with pytest.raises(sm.InputError, match="image_size"):
        m.translate(0, 0, image_size=(0, 3))
    assert m.translate(5, 5).area.tolist() == [0]


def test_translate_keeps_pycocotools_runs_at_the_image_end() -> None:
    full = np.zeros((1, 3, 4), bool)
    full[0, 1:, 2:] = True  # reaches the last pixel
    moved = sm.Masks.from_dense(full).translate(0, 0)
    assert moved.to_rle() == sm.encode(full)
    assert sm.Masks.from_dense(full).translate(-2, -1, (2, 2)).to_rle() == sm.encode(np.ones((1, 2, 2), bool))
