"""COCO export and import, against pycocotools' own loader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as pcm

import segmask as sm
from tests.helpers import generated_shapes, load_coco, load_dict, sample, shapes_response


def test_polygon_export_round_trips_every_generated_shape_through_pycocotools(tmp_path: Path) -> None:
    masks = generated_shapes()
    preds = sm.Predictions.from_response(shapes_response(masks))
    np.testing.assert_array_equal(preds.masks().to_dense(), masks)  # the contour rule gives them back
    report = sm.to_coco([("a.png", preds)], tmp_path / "coco.json", segmentation="polygon")
    assert (report.polygons, report.rles, report.without_mask) == (len(masks), 0, 0)  # all as polygons
    coco = load_coco(tmp_path / "coco.json")
    assert coco.dataset["info"]["segmask"] == {"polygons": len(masks), "rles": 0, "without_mask": 0}
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


def test_masks_with_holes_or_parts_are_written_as_rle(tmp_path: Path) -> None:
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
    report = sm.to_coco([("x.png", preds)], tmp_path / "c.json")
    assert report.rles == 2 and report.polygons == 0
    coco = load_coco(tmp_path / "c.json")
    for ann, mask in zip(coco.loadAnns(coco.getAnnIds()), (ring, two), strict=True):
        np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), mask)


def test_to_coco_writes_info_categories_and_rle_mode(tmp_path: Path) -> None:
    preds = sample()
    out = tmp_path / "coco.json"
    report = sm.to_coco([("sample.png", preds), ("empty.png", preds[[]])], out, segmentation="rle")
    assert report.paths == [str(out)] and report.images == 2 and report.instances == len(preds)
    coco = load_coco(out)
    assert coco.info() is None  # pycocotools prints the info block: it must be there to print
    assert coco.dataset["info"]["version"] == sm.__version__
    assert (
        [c["name"] for c in coco.dataset["categories"]] == sorted(set(preds.class_name.tolist())) == report.categories
    )
    assert [im["file_name"] for im in coco.dataset["images"]] == ["sample.png", "empty.png"]
    assert coco.dataset["images"][0]["height"] == 360
    masks = preds.masks()
    for ann, expected in zip(coco.loadAnns(coco.getAnnIds()), masks.to_dense(), strict=True):
        np.testing.assert_array_equal(coco.annToMask(ann).astype(bool), expected)
    with pytest.raises(sm.InputError, match=r"the class '\w+' is not in categories"):
        sm.to_coco([("s.png", preds)], tmp_path / "other.json", categories=["card"])
    assert not (tmp_path / "other.json").exists()  # nothing written on a failure
    with pytest.raises(sm.InputError, match=r"segmentation must be one of 'polygon', 'rle'"):
        sm.to_coco([("s.png", preds)], tmp_path / "x.json", segmentation="mask")
    with pytest.raises(sm.InputError, match="is a folder; the COCO output is a file"):
        sm.to_coco([("s.png", preds)], tmp_path)


def test_given_categories_keep_their_ids(tmp_path: Path) -> None:
    preds = sample()
    names = sorted(set(preds.class_name.tolist()))
    cats = [{"id": 10 + k, "name": n, "supercategory": "thing"} for k, n in enumerate(names)]
    sm.to_coco([("s.png", preds)], tmp_path / "c.json", categories=cats)
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["categories"] == cats
    by_id = {c["id"]: c["name"] for c in cats}
    assert [by_id[a["category_id"]] for a in data["annotations"]] == preds.class_name.tolist()
    with pytest.raises(sm.InputError, match=r"categories\[0\] must be a class name or a COCO category dict"):
        sm.to_coco([("s.png", preds)], tmp_path / "d.json", categories=[{"name": "coin"}])
    with pytest.raises(sm.InputError, match="repeats an id or a name"):
        sm.to_coco([("s.png", preds)], tmp_path / "d.json", categories=["coin", "coin"])


def test_predictions_without_masks_are_counted_not_written(tmp_path: Path) -> None:
    response = {"image": {"width": 9, "height": 9}, "predictions": [
        {"x": 4, "y": 4, "width": 2, "height": 2, "class": "a", "confidence": 0.9, "points": [{"x": 3, "y": 3}]},
        {"x": 4, "y": 4, "width": 2, "height": 2, "class": "a", "confidence": 0.8,
         "points": [{"x": 3, "y": 3}, {"x": 5, "y": 3}, {"x": 5, "y": 5}]},
    ]}  # fmt: skip
    report = sm.to_coco([("a.png", sm.Predictions.from_response(response))], tmp_path / "c.json")
    assert report.instances == 1 and report.without_mask == 1
    assert len(json.loads((tmp_path / "c.json").read_text())["annotations"]) == 1


@pytest.mark.parametrize("items", [None, "a.png", [("a.png", 3)], [("a.png",)], {"a.png": 1}])
def test_items_must_be_pairs(items: object, tmp_path: Path) -> None:
    with pytest.raises(sm.InputError, match="must be"):
        sm.to_coco(items, tmp_path / "c.json")  # type: ignore[arg-type]


def test_results_are_matched_to_the_ground_truth(tmp_path: Path) -> None:
    truth = sample()
    sm.to_coco([("sample.png", truth)], tmp_path / "gt.json")
    report = sm.to_coco_results([("sample.png", truth)], tmp_path / "dt.json", ground_truth=tmp_path / "gt.json")
    results = json.loads((tmp_path / "dt.json").read_text())
    assert report.instances == len(results) == len(truth)
    gt = load_coco(tmp_path / "gt.json")
    dt = gt.loadRes(str(tmp_path / "dt.json"))
    assert len(dt.getAnnIds()) == len(truth)
    with pytest.raises(sm.InputError, match=r"'other\.png' is not an image of the ground truth"):
        sm.to_coco_results([("other.png", truth)], tmp_path / "x.json", ground_truth=tmp_path / "gt.json")


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
    coco = load_dict(data)
    dense = preds.masks().to_dense()
    for k, ann in enumerate(coco.loadAnns([1, 2])):
        np.testing.assert_array_equal(dense[k], coco.annToMask(ann).astype(bool))
    np.testing.assert_array_equal(preds.xyxy[0], [1, 1, 6, 6])
    data["annotations"][0]["segmentation"] = [[1, 1, 5, 5]]
    with pytest.raises(sm.ResponseFormatError, match=r"annotations\[0\].segmentation\[0\].*would read 4 as a box"):
        sm.from_coco(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["categories"][0].pop("id"), r"categories\[0\] has no integer id"),
        (lambda d: d["categories"][0].pop("name"), r"categories\[0\] has no name"),
        (lambda d: d["images"][0].pop("height"), r"images\[0\] \(height, width\) must be two positive integers"),
        (lambda d: d["images"][0].update(height=100000, width=100000), "below 2\\*\\*32 pixels"),
        (lambda d: d["images"].append(dict(d["images"][0])), r"images\[1\].id 7 is missing or repeated"),
        (lambda d: d["annotations"][0].update(image_id=99), r"annotations\[0\].image_id 99 is not an image"),
        (lambda d: d["annotations"][0].update(category_id=9), r"annotations\[0\].category_id 9 is not in categories"),
        (lambda d: d["annotations"][0].update(bbox=[1, 2]), r"annotations\[0\].bbox is \[1, 2\]"),
        (lambda d: d["annotations"][0].update(segmentation="x"), r"segmentation must be polygons"),
        (lambda d: d.update(annotations={}), "annotations must be a list"),
    ],
)
def test_from_coco_names_what_is_wrong(change: object, message: str) -> None:
    data = {
        "images": [{"id": 7, "file_name": "a.png", "height": 20, "width": 30}],
        "categories": [{"id": 3, "name": "cat"}],
        "annotations": [{"id": 1, "image_id": 7, "category_id": 3, "bbox": [1, 1, 5, 5],
                         "segmentation": [[1, 1, 6, 1, 6, 6]]}],
    }  # fmt: skip
    change(data)  # type: ignore[operator]
    with pytest.raises(sm.ResponseFormatError, match=message):
        sm.from_coco(data)


def test_to_coco_then_from_coco_gives_the_same_masks(tmp_path: Path) -> None:
    preds = sample()
    sm.to_coco([("s.png", preds)], tmp_path / "c.json")
    [(name, back)] = sm.from_coco(tmp_path / "c.json")
    assert name == "s.png" and back.class_name.tolist() == preds.class_name.tolist()
    np.testing.assert_array_equal(back.masks().to_dense(), preds.masks().to_dense())
