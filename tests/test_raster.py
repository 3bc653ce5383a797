"""Both rasterization rules against their references: pycocotools and OpenCV."""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest
from hypothesis import given
from pycocotools import mask as pcm

import segmask as sm
from tests.strategies import blob, polygons_and_size


def pcc_polygons(polygons: list[np.ndarray], size: tuple[int, int]) -> list[dict]:
    return pcm.frPyObjects([p.ravel().tolist() for p in polygons], *size)


@given(polygons_and_size())
def test_coco_rule_is_bit_identical_to_pycocotools(case: tuple[list[np.ndarray], tuple[int, int]]) -> None:
    polygons, size = case
    masks = sm.rasterize(polygons, size, rule="coco")
    ref = pcc_polygons(polygons, size)
    assert [r["counts"] for r in masks.to_rle()] == [r["counts"].decode() for r in ref]
    np.testing.assert_array_equal(masks.area, pcm.area(ref).astype(np.int64))
    np.testing.assert_array_equal(masks.boxes, pcm.toBbox(ref))
    # pixels, through segmask's own decoder
    np.testing.assert_array_equal(masks.to_dense(), pcm.decode(ref).transpose(2, 0, 1).astype(bool))


@pytest.mark.parametrize("far", [2e2, 3e3, 4e4, 2e5])
def test_far_vertices_match_pycocotools(far: float) -> None:
    polygons = [
        np.array([[5.3, 4.1], [far, 20.7], [30.2, far / 3], [12.0, 40.5]]),
        np.array([[-far, -far], [far, -7.5], [60.1, 44.4], [-3.3, far]]),
        np.array([[10.0, 10.0], [12.0, -far], [14.0, 10.0]]),
    ]
    masks = sm.rasterize(polygons, (48, 64), rule="coco")
    assert [r["counts"] for r in masks.to_rle()] == [r["counts"].decode() for r in pcc_polygons(polygons, (48, 64))]


def test_large_polygons_match_pycocotools() -> None:
    """Hundreds of columns each: the toggles are radix-sorted (in two and three passes), not insertion-sorted."""
    rng = np.random.default_rng(11)
    polygons = []
    for _ in range(40):
        k = int(rng.integers(3, 300))
        angle = np.sort(rng.uniform(0, 2 * np.pi, k))
        radius = rng.uniform(20, 500) * rng.uniform(0.3, 1.0, k)
        centre = rng.uniform([0, 0], [1920, 1080])
        polygons.append(np.round(centre + radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1), 2))
    masks = sm.rasterize(polygons, (1080, 1920), rule="coco")
    assert [r["counts"] for r in masks.to_rle()] == [r["counts"].decode() for r in pcc_polygons(polygons, (1080, 1920))]


@pytest.mark.parametrize("rule", sm.RULES)
def test_a_vertex_at_1e7_costs_memory_bounded_by_the_image(rule: str) -> None:
    """pycocotools needs ~1.5 GB for this polygon; the image is 100x100."""
    polygon = np.array([[10.0, 10.0], [1e7, 50.0], [20.0, 90.0]])
    tracemalloc.start()
    masks = sm.rasterize([polygon], (100, 100), rule=rule)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 2_000_000
    assert masks.area[0] > 0 and masks.boxes[0, 2] == 90  # columns 10..99: it reaches the right edge


@given(polygons_and_size())
def test_contour_rule_is_fillpoly_on_the_full_image(case: tuple[list[np.ndarray], tuple[int, int]]) -> None:
    """Crops must not change a pixel, even where the polygon leaves the image."""
    polygons, (h, w) = case
    masks = sm.rasterize(polygons, (h, w), rule="contour")
    ref = np.zeros((len(polygons), h, w), np.uint8)
    for canvas, p in zip(ref, polygons, strict=True):
        cv2.fillPoly(canvas, [np.floor(p + 0.5).astype(np.int32)], 1)
    np.testing.assert_array_equal(masks.to_dense(), ref.astype(bool))
    rle = pcm.encode(np.asfortranarray(ref.transpose(1, 2, 0)))
    np.testing.assert_array_equal(masks.boxes, pcm.toBbox(rle))
    np.testing.assert_array_equal(masks.area, pcm.area(rle).astype(np.int64))


def test_contour_rule_from_many_threads_is_fillpoly() -> None:
    # The kernel keeps one scratch area from call to call; threads that fill at the same time must
    # each get their own, and a large polygon (whose scratch is not kept) must not disturb a small one.
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(8)
    h, w = 300, 20000
    jobs = []
    for k in range(64):
        size = 19000 if k % 8 == 0 else 40  # rows wider than the scratch that is kept
        centre = rng.uniform([size / 2, 20], [w - size / 2, h - 20])
        angle = np.sort(rng.uniform(0, 2 * np.pi, int(rng.integers(3, 60))))
        radius = rng.uniform(0.3, 1.0, len(angle)) * size / 2
        jobs.append([centre + np.stack([radius * np.cos(angle), np.minimum(radius, 100) * np.sin(angle)], 1)])
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda polys: sm.rasterize(polys, (h, w), rule="contour").to_rle(), jobs))
    for polys, rles in zip(jobs, got, strict=True):
        ref = np.zeros((h, w), np.uint8)
        cv2.fillPoly(ref, [np.floor(polys[0] + 0.5).astype(np.int32)], 1)
        assert rles[0]["counts"] == pcm.encode(np.asfortranarray(ref))["counts"].decode()


def _filled_components(image: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components with their holes filled, found without OpenCV's polygon fill."""
    count, labels = cv2.connectedComponents(image, connectivity=8)
    return labels, count


def _fill_holes(component: np.ndarray) -> np.ndarray:
    padded = np.pad(~component, 1, constant_values=True).astype(np.uint8)
    _, outside = cv2.connectedComponents(padded, connectivity=4)
    return ~(outside[1:-1, 1:-1] == outside[0, 0])


@given(blob())
def test_contour_round_trip_gives_back_every_pixel(image: np.ndarray) -> None:
    """Mask -> findContours(EXTERNAL, SIMPLE), as the server does -> segmask -> the same pixels."""
    contours, _ = cv2.findContours(image, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return
    labels, _ = _filled_components(image)
    polygons = [c[:, 0, :].astype(np.float64) for c in contours]
    # findContours gives 1- or 2-point contours for specks and straight lines:
    # repeat their points to make the (degenerate) polygon they stand for.
    polygons = [np.resize(p, (3, 2)) if len(p) < 3 else p for p in polygons]
    masks = sm.rasterize(polygons, image.shape, rule="contour")
    dense = masks.to_dense()
    for i, c in enumerate(contours):
        x, y = c[0, 0]
        expected = _fill_holes(labels == labels[y, x])
        np.testing.assert_array_equal(dense[i], expected)


def test_both_rules_documented_difference_on_a_square() -> None:
    square = [[1, 1], [3, 1], [3, 3], [1, 3]]
    assert sm.rasterize([square], (5, 5), rule="contour").area.tolist() == [9]
    assert sm.rasterize([square], (5, 5), rule="coco").area.tolist() == [4]


def test_rounding_is_half_up_never_truncation() -> None:
    # x = 1.5 rounds to 2, x = 2.49 to 2, y = 0.5 to 1: one pixel at (2, 1).
    masks = sm.rasterize([[[1.5, 0.5], [2.49, 0.5], [2.0, 1.4]]], (4, 4), rule="contour")
    assert masks.to_dense()[0].nonzero() == (np.array([1]), np.array([2]))


@pytest.mark.parametrize("rule", sm.RULES)
def test_polygons_outside_the_image_give_empty_masks(rule: str) -> None:
    polygons = [[[-50, -50], [-10, -50], [-10, -10]], [[500, 5], [600, 5], [600, 8]], [[1, 1], [5, 1], [5, 5]]]
    masks = sm.rasterize(polygons, (20, 20), rule=rule)
    assert masks.area[:2].tolist() == [0, 0] and masks.area[2] > 0
    assert masks.boxes[:2].tolist() == [[0, 0, 0, 0]] * 2


@pytest.mark.parametrize("rule", sm.RULES)
def test_no_polygons_gives_no_masks(rule: str) -> None:
    masks = sm.rasterize([], (7, 9), rule=rule)
    assert len(masks) == 0 and masks.image_size == (7, 9)
    assert masks.area.shape == (0,) and masks.area.dtype == np.int64
    assert masks.boxes.shape == (0, 4) and masks.boxes.dtype == np.int64
    assert masks.to_dense().shape == (0, 7, 9) and masks.to_rle() == []


def test_inputs_forms_agree() -> None:
    pts = np.array([[1.0, 2.0], [8.0, 2.5], [6.0, 9.0]])
    a = sm.rasterize([pts], (12, 12)).to_rle()
    assert sm.rasterize([pts.tolist()], (12, 12)).to_rle() == a
    assert sm.rasterize([pts.ravel().tolist()], (12, 12)).to_rle() == a
    assert sm.rasterize(pts[None], (12, 12)).to_rle() == a
    assert sm.rasterize((tuple(map(tuple, pts)),), (12, 12)).to_rle() == a


@pytest.mark.parametrize(
    ("polygons", "message"),
    [
        ([[[0, 0], [1, 1], [2, 0]], [[0, 0], [1, 1]]], "polygons[1] has 2 points; a polygon needs at least 3"),
        ([[0, 0, 1, 1, 2, 0], [0, 0, 4, 0, 4]], "polygons[1] is a flat list of 5 numbers"),
        ([[0, 0, 4, 0]], "polygons[0] has 2 points"),  # pycocotools reads this as a box
        ([[[0, 0], [1, np.nan], [2, 0]]], "polygons[0] point 1 has y = nan"),
        ([[[0, 0], [1, 1], [np.inf, 0]]], "polygons[0] point 2 has x = inf"),
        ([[[0, 0], [1, 1], [2, 0, 3]]], "polygons[0] is ragged"),
        ([[[0, 0, 0], [1, 1, 1], [2, 0, 0]]], "polygons[0] must have shape (K, 2)"),
        ([["a", "b", "c", "d", "e", "f"]], "polygons[0] holds <U1 values"),
        ([[[0, 0], [3e8, 1], [2, 0]]], "polygons[0] point 1 has x = 3e+08, beyond the supported"),
        ([[]], "polygons[0] has 0 points"),
        (np.zeros((5, 2)), "must be (N, K, 2)"),
        ("0 0 1 1 2 0", "must be a sequence of polygons"),
    ],
)
def test_bad_polygons_are_named(polygons: object, message: str) -> None:
    with pytest.raises(sm.PolygonError) as info:
        sm.rasterize(polygons, (10, 10))  # type: ignore[arg-type]
    assert message in str(info.value)


@pytest.mark.parametrize("size", [(0, 5), (5,), (5.0, 5), "5x5", (True, 4), None])
def test_bad_image_size(size: object) -> None:
    with pytest.raises(sm.InputError, match="image_size must be"):
        sm.rasterize([[[0, 0], [1, 1], [2, 0]]], size)  # type: ignore[arg-type]


def test_bad_rule_lists_the_valid_ones() -> None:
    with pytest.raises(sm.InputError, match="rule must be one of 'contour', 'coco', got 'cocoo'"):
        sm.rasterize([[[0, 0], [1, 1], [2, 0]]], (4, 4), rule="cocoo")  # type: ignore[arg-type]


def test_polygon_area_is_the_shoelace_area() -> None:
    tri = np.array([[0.0, 0.0], [4.0, 0.0], [4.0, 3.0]])
    far = tri + 1e6
    area = sm.polygon_area([tri, tri[::-1], far, [0, 0, 2, 0, 2, 2, 0, 2]])
    assert area.dtype == np.float64
    np.testing.assert_array_equal(area, [6.0, 6.0, 6.0, 4.0])
    assert sm.polygon_area([]).shape == (0,)


def test_contour_round_trip_on_200_larger_blobs() -> None:
    """Bigger images than hypothesis draws: 200 blobs of 120x160, every outer contour."""
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(200):
        noise = cv2.GaussianBlur(rng.random((120, 160)).astype(np.float32), (0, 0), rng.uniform(1, 6))
        image = (noise > np.quantile(noise, rng.uniform(0.4, 0.8))).astype(np.uint8)
        contours, _ = cv2.findContours(image, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        polygons = [np.resize(c[:, 0, :], (max(len(c), 3), 2)).astype(np.float64) for c in contours]
        dense = sm.rasterize(polygons, image.shape, rule="contour").to_dense()
        labels, _ = _filled_components(image)
        for i, c in enumerate(contours):
            x, y = c[0, 0]
            np.testing.assert_array_equal(dense[i], _fill_holes(labels == labels[y, x]))
            checked += 1
    assert checked > 1000
