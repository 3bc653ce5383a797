"""Geometry: validate names problems, repair/clip/simplify give parts, on every awkward polygon."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from pycocotools import mask as pcm

import segmask as sm

BOWTIE = [[0, 0], [4, 4], [4, 0], [0, 4]]  # crosses itself at (2, 2)
SQUARE = [[1, 1], [5, 1], [5, 5], [1, 5]]


@pytest.mark.parametrize(
    ("polygon", "problems", "reason"),
    [
        (SQUARE, (), None),
        (BOWTIE, ("self_intersection",), "Self-intersection"),
        ([[0, 0], [6, 0], [6, 6], [3, 6], [3, 9], [3, 6], [0, 6]], ("self_intersection",), "Self-intersection"),
        ([[1, 1], [5, 1], [5, 1], [5, 5], [1, 5], [1, 1]], (), None),  # repeated points are fine
        ([[0, 0], [1, 1], [2, 2], [3, 3]], ("zero_area", "self_intersection"), "Self-intersection"),  # collinear
        ([[0, 0], [5, 0], [5, 1e-13], [0, 0]], ("zero_area",), None),  # a sliver: valid, 2.5e-13 px2
        ([[0, 0], [1, 1]], ("too_few_points",), None),
        ([0, 0, 1, 1, 2], ("odd_coordinates",), None),
        ([[0, 0], [1, np.nan], [2, 0]], ("not_finite",), None),
        ([[0, 0], [1, np.inf]], ("too_few_points", "not_finite"), None),
    ],
)
def test_validate_names_each_problem(polygon: list, problems: tuple, reason: str | None) -> None:
    [check] = sm.validate([polygon])
    assert check.problems == problems
    assert check.reason == reason


def test_a_ring_touching_itself_is_told_apart_from_one_crossing_itself() -> None:
    tip = [[0, 0], [4, 0], [2, 2], [4, 4], [0, 4], [2, 2]]  # two lobes meeting at one vertex
    touching, crossing = sm.validate([tip, BOWTIE])
    assert touching.problems == ("self_touching",) and touching.reason == "Ring Self-intersection"
    assert touching.location == (2.0, 2.0)
    assert crossing.problems == ("self_intersection",) and crossing.reason == "Self-intersection"


def test_validate_gives_shapely_location_of_self_intersection() -> None:
    [check] = sm.validate([BOWTIE])
    assert check.location == (2.0, 2.0)
    assert str(check) == "polygons[0]: self_intersection (Self-intersection at x=2, y=2)"


@pytest.mark.parametrize(
    ("rule", "polygon", "problem"),
    [
        ("contour", [[20, 20], [30, 20], [30, 30]], "outside_image"),
        ("contour", [[-5, 2], [5, 2], [5, 4]], "partly_outside"),
        ("contour", [[0, 0], [9, 0], [9, 9]], None),  # on the last pixel centres: inside
        ("coco", [[0, 0], [10, 0], [10, 10]], None),  # on the image's edge: inside
        ("contour", [[0, 0], [10, 0], [10, 10]], "partly_outside"),  # x = 10 is past the last centre
        ("coco", [[-3, -3], [-1, -3], [-1, -1]], "outside_image"),
    ],
)
def test_validate_outside_the_image(rule: str, polygon: list, problem: str | None) -> None:
    [check] = sm.validate([polygon], image_size=(10, 10), rule=rule)  # type: ignore[arg-type]
    assert check.problems == ((problem,) if problem else ())


def test_validate_takes_shapely_polygons_with_holes() -> None:
    good = shapely.Polygon([(0, 0), (9, 0), (9, 9), (0, 9)], [[(3, 3), (6, 3), (6, 6), (3, 6)]])
    bad = shapely.Polygon([(0, 0), (4, 0), (4, 4), (0, 4)], [[(6, 6), (8, 6), (8, 8)]])  # hole outside shell
    checks = sm.validate([good, bad])
    assert checks[0].ok and checks[1].problems == ("invalid",) and checks[1].reason == "Hole lies outside shell"


def test_validate_never_raises_for_geometry_but_does_for_garbage() -> None:
    checks = sm.validate([BOWTIE, [[0, 0]], [], [[np.nan, 0], [0, 0], [1, 1]]])
    assert [c.ok for c in checks] == [False, False, False, False]
    with pytest.raises(sm.InputError, match=r"polygons\[1\] must be numbers"):
        sm.validate([SQUARE, [["a", "b"], ["c", "d"], ["e", "f"]]])


def test_repair_splits_a_bowtie_into_the_area_pycocotools_counts() -> None:
    parts = sm.repair([BOWTIE, SQUARE])
    assert parts.source.tolist() == [0, 0, 1]
    assert sorted(p.area for p in parts.polygons[:2]) == [4.0, 4.0]  # shapely's area of the ring itself: 0
    assert shapely.area(shapely.Polygon(BOWTIE)) == 0.0
    [bowtie_shape, _] = parts.grouped(2)
    ours = sm.rasterize([bowtie_shape], (8, 8), rule="coco").area[0]
    theirs = pcm.area(pcm.frPyObjects([np.ravel(BOWTIE).astype(float).tolist()], 8, 8))[0]
    assert ours == theirs  # the crossing is on the 1/5 grid: exact
    # the raw ring under both rules gives the same pixels as its repaired parts
    for rule in sm.RULES:
        raw = sm.rasterize([BOWTIE], (8, 8), rule=rule).to_dense()
        fixed = sm.rasterize([bowtie_shape], (8, 8), rule=rule).to_dense()
        assert np.array_equal(raw, fixed)


def test_repair_drops_lines_and_points_and_keeps_spikes_area() -> None:
    parts = sm.repair([[[0, 0], [1, 1], [2, 2]], [[0, 0], [6, 0], [6, 6], [3, 6], [3, 9], [3, 6], [0, 6]]])
    assert parts.source.tolist() == [1]
    assert parts.polygons[0].area == 36.0 and parts.polygons[0].is_valid


def test_clip_cuts_to_the_image_and_may_split() -> None:
    u_shape = [[-4, 0], [4, 0], [4, 8], [-4, 8], [-4, 6], [2, 6], [2, 2], [-4, 2]]  # leaves and re-enters x = 0
    parts = sm.clip([u_shape, [[20, 20], [30, 20], [30, 30]], SQUARE], (10, 10), rule="coco")
    assert parts.source.tolist() == [0, 2]  # the outside one is gone
    assert shapely.get_num_geometries(shapely.MultiPolygon([parts.polygons[0]])) == 1
    assert parts.polygons[0].bounds == (0.0, 0.0, 4.0, 8.0)
    split = sm.clip([u_shape], (10, 2), rule="coco")  # 2 wide: the U's arms, without what joins them
    assert split.source.tolist() == [0, 0]
    assert sorted(p.bounds for p in split.polygons) == [(0.0, 0.0, 2.0, 2.0), (0.0, 6.0, 2.0, 8.0)]
    contour = sm.clip([[[-4, 1], [4, 1], [4, 3]]], (10, 10), rule="contour")
    assert contour.polygons[0].bounds[0] == -0.5


def test_clip_keeps_the_pixels_inside_the_image() -> None:
    polygon = [[-6.3, 2.2], [7.7, -3.1], [12.4, 8.8], [3.3, 14.6]]
    for rule in sm.RULES:
        clipped = sm.clip([polygon], (10, 10), rule=rule).grouped(1)  # type: ignore[arg-type]
        a = sm.rasterize([polygon], (10, 10), rule=rule).area[0]  # type: ignore[arg-type]
        b = sm.rasterize(clipped, (10, 10), rule=rule).area[0]  # type: ignore[arg-type]
        assert abs(int(a) - int(b)) <= 4  # new vertices on the border move by rounding only


def test_simplify_keeps_holes() -> None:
    ring = [(0.0, 0.0), (5.0, 0.1), (10.0, 0.0), (10.0, 10.0), (0.0, 10.0)]
    shape = shapely.Polygon(ring, [[(4, 4), (6, 4), (6, 6), (4, 6)]])
    parts = sm.simplify([shape], tolerance=0.5)
    assert len(parts.polygons[0].exterior.coords) == 5 and len(parts.polygons[0].interiors) == 1
    with pytest.raises(sm.InputError, match="tolerance"):
        sm.simplify([shape], tolerance=-1)


def test_predictions_chain_clip_repair_masks() -> None:
    def pred(points: list) -> dict:
        return {"x": 1, "y": 1, "width": 1, "height": 1, "class": "a", "confidence": 0.5,
                "points": [{"x": x, "y": y} for x, y in points]}  # fmt: skip

    response = {"image": {"width": 10, "height": 10}, "predictions": [
        pred(BOWTIE), pred([[-5, 2], [5, 2], [5, 4], [-5, 4]]), pred([[30, 30], [40, 30], [40, 40]]), pred([[1, 1]]),
    ]}  # fmt: skip
    preds = sm.Predictions.from_response(response)
    assert [c.problems for c in preds.validate()] == [
        ("self_intersection",),
        ("partly_outside",),
        ("outside_image",),
        ("too_few_points",),
    ]
    for fixed in (preds.clip().repair(), preds.repair().clip()):
        assert fixed.has_mask.tolist() == [True, True, False, False]
        for rule in sm.RULES:
            np.testing.assert_array_equal(fixed.masks(rule=rule).area, preds.masks(rule=rule).area)  # type: ignore[arg-type]
    assert isinstance(preds.repair().polygons[0], shapely.MultiPolygon)
    # Two parts do not fit the API's one ring: written as its RLE variant, so nothing changes on the way back.
    repaired = preds.repair()
    written = repaired.to_dict()
    assert "rle" in written["predictions"][0] and "points" not in written["predictions"][0]
    again = sm.Predictions.from_response(written)
    np.testing.assert_array_equal(again.masks().to_dense(), repaired.masks().to_dense())
    assert preds.clip().to_dict()["predictions"][1]["points"][0] == {"x": -0.5, "y": 2.0}
    assert preds.simplify(tolerance=0.1).has_mask.tolist() == [True, True, True, False]
