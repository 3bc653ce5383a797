"""Every reader, given hostile input, gives back what was written or refuses it, naming where (issue 17).

The inputs are built here. Three rules, held where every reader goes through:

* names round-trip or are refused: a class name is a ``str`` as written (never
  converted), without a NUL or a lone surrogate (the :class:`Columns` constructor);
* every outside value is checked before use: ids of the wrong type or past
  int64, ``null`` where a list is due, nesting deep enough to crash a copy;
* messages name the item by its index in the file (``annotations[6]``) and the file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from pycocotools import mask as pcm

import segmask as sm
from segmask._columns import Columns
from tests.strategies import class_names, unholdable_names


def prediction(name: Any = "cat", **more: Any) -> dict[str, Any]:
    return {"x": 2, "y": 2, "width": 2, "height": 2, "confidence": 0.5, "class": name, **more}


def response(*predictions: dict[str, Any], **more: Any) -> dict[str, Any]:
    return {"predictions": list(predictions), "image": {"width": 8, "height": 8}, **more}


def nested(depth: int, leaf: Any = 1, kind: str = "list") -> Any:
    for _ in range(depth):
        leaf = [leaf] if kind == "list" else {"k": leaf}
    return leaf


# --- names round-trip or are refused ---------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(class_names)
def test_a_class_name_comes_back_as_written_through_every_reader(name: str) -> None:
    data = response(prediction(name))
    assert sm.Predictions.from_response(data).class_name.tolist() == [name]
    assert sm.Predictions.from_response(orjson.dumps(data)).class_name.tolist() == [name]
    back = sm.Predictions.from_response(sm.Predictions.from_response(data).to_dict())
    assert back.class_name.tolist() == [name]
    masks = sm.Masks.from_dense(np.ones((1, 2, 2), bool))
    assert sm.Predictions.from_masks(masks, confidence=[1], class_name=[name]).class_name.tolist() == [name]
    coco = {
        "images": [{"id": 1, "file_name": "a.png", "height": 8, "width": 8}],
        "categories": [{"id": 1, "name": name}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 2, 2], "segmentation": []}],
    }
    [(_, preds)] = sm.from_coco(json.loads(json.dumps(coco)))
    assert preds.class_name.tolist() == [name]


@settings(max_examples=60, deadline=None)
@given(unholdable_names)
def test_a_name_no_format_can_hold_is_refused_naming_it(name: str) -> None:
    with pytest.raises(sm.ResponseFormatError, match=r"predictions\[1\]\.class is .*(NUL|surrogate)"):
        sm.Predictions.from_response(response(prediction(), prediction(name)))
    masks = sm.Masks.from_dense(np.ones((2, 2, 2), bool))
    for names in ([name, "ok"], np.array([name, "ok"], dtype=object)):
        with pytest.raises(sm.InputError, match=r"class_name\[0\] is .*(NUL|surrogate)"):
            sm.Predictions.from_masks(masks, confidence=[1, 1], class_name=names)
    coco = {"images": [], "categories": [{"id": 1, "name": "ok"}, {"id": 2, "name": name}]}
    with pytest.raises(sm.ResponseFormatError, match=r"categories\[1\]\.name is .*(NUL|surrogate)"):
        sm.from_coco(coco)


def test_a_nul_is_refused_from_the_bytes_path_too() -> None:
    body = orjson.dumps(response(prediction("cat\x00")))
    assert b"\\u0000" in body
    with pytest.raises(sm.ResponseFormatError, match=r"predictions\[0\]\.class is 'cat\\x00'.*NUL"):
        sm.Predictions.from_response(body)


def test_str_arrays_are_checked_for_what_numpy_keeps() -> None:
    masks = sm.Masks.from_dense(np.ones((2, 2, 2), bool))
    for bad in (np.array(["ok", "a\x00b"]), np.array(["ok", "x\udcff"])):
        with pytest.raises(sm.InputError, match=r"class_name\[1\]"):
            sm.Predictions.from_masks(masks, confidence=[1, 1], class_name=bad)
    fine = sm.Predictions.from_masks(masks, confidence=[1, 1], class_name=np.array(["", "cat"]))
    assert fine.class_name.tolist() == ["", "cat"]


@pytest.mark.parametrize("bad", [1, None, b"cat", ["cat"], np.int64(3)])
def test_a_class_name_is_never_converted(bad: Any) -> None:
    masks = sm.Masks.from_dense(np.ones((2, 2, 2), bool))
    with pytest.raises(sm.InputError, match=r"class_name\[1\] is .*, expected a string"):
        sm.Predictions.from_masks(masks, confidence=[1, 1], class_name=["ok", bad])


def test_from_supervision_refuses_names_that_are_not_text() -> None:
    sv = pytest.importorskip("supervision", reason="supervision is in the test extra")
    boxes = np.array([[1.0, 1.0, 3.0, 3.0], [2.0, 2.0, 4.0, 4.0]])
    for names, shown in ((np.array([1, 2]), "1"), (np.array(["ok", "cat\x00"], dtype=object), "'cat\\\\x00'")):
        detections = sv.Detections(xyxy=boxes, class_id=np.array([1, 2]), data={"class_name": names})
        index = 0 if shown == "1" else 1
        with pytest.raises(sm.InputError, match=rf"detections\.data\['class_name'\]\[{index}\] is {shown}"):
            sm.Predictions.from_supervision(detections, image_size=(8, 8))


def test_columns_refuse_misaligned_columns() -> None:
    good = sm.Predictions.from_masks(sm.Masks.empty((4, 4), n=2), confidence=[1, 1], class_name=["a", "b"]).columns
    with pytest.raises(sm.InputError, match=r"columns: extras must hold 2 items"):
        good.replace(extras=(None,))
    with pytest.raises(sm.InputError, match=r"columns: cxcywh must be \(2, 4\) of float64, got \(2, 4\) of int64"):
        good.replace(cxcywh=np.zeros((2, 4), np.int64))
    with pytest.raises(sm.InputError, match=r"columns: class_name must be 2 names"):
        good.replace(class_name="ab")
    assert isinstance(good.replace(rule="coco"), Columns)


def test_yolo_class_lists_round_trip_or_are_refused(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("1 0.1 0.1 0.5 0.1 0.5 0.5\n")
    (tmp_path / "classes.txt").write_bytes("\ufeffcat\ndog\n\n".encode())  # a BOM, as Windows tools write
    [(_, preds)] = sm.from_yolo(tmp_path, (10, 10))
    assert preds.class_name.tolist() == ["dog"]
    [(_, first)] = sm.from_yolo(tmp_path / "x.txt", (10, 10), categories=["\ufeffcat", "dog"])
    assert first.class_name.tolist() == ["dog"]  # given names are taken as they are
    (tmp_path / "classes.txt").write_text("cat\n\ndog\n")
    with pytest.raises(sm.ResponseFormatError, match=r"classes\.txt line 2 is blank"):
        sm.from_yolo(tmp_path, (10, 10))
    (tmp_path / "classes.txt").write_text("cat\ndo\x00g\n")
    with pytest.raises(sm.ResponseFormatError, match=r"classes\.txt line 2 is 'do\\x00g'.*NUL"):
        sm.from_yolo(tmp_path, (10, 10))
    with pytest.raises(sm.InputError, match=r"categories\[1\] is 'do\\x00g'"):
        sm.from_yolo(tmp_path / "x.txt", (10, 10), categories=["cat", "do\x00g"])


# --- every outside value checked before use ---------------------------------------------------------


def coco_data() -> dict[str, Any]:
    crowd = np.zeros((20, 30), bool)
    crowd[2:8, 3:20] = True
    counts = pcm.encode(np.asfortranarray(crowd.astype(np.uint8)))["counts"].decode()
    return {
        "images": [{"id": 7, "file_name": "a.png", "height": 20, "width": 30},
                   {"id": 8, "file_name": "b.png", "height": 20, "width": 30}],
        "categories": [{"id": 3, "name": "cat"}, {"id": 4, "name": "dog"}],
        "annotations": [
            {"id": 10 + k, "image_id": 7 + k % 2, "category_id": 3 + k % 2, "bbox": [1, 1, 5, 5], "area": 25,
             "iscrowd": int(k == 6), "segmentation": {"size": [20, 30], "counts": counts} if k >= 5
             else [[1, 1, 6, 1, 6, 6]]}
            for k in range(8)
        ],
    }  # fmt: skip


Change = Callable[[dict[str, Any]], Any]


def ann6(**fields: Any) -> Change:
    return lambda d: d["annotations"][6].update(fields)


def rle6(**fields: Any) -> Change:
    return lambda d: d["annotations"][6]["segmentation"].update(fields)


IMAGE1, ANN6, SEG6 = r"images\[1\]", r"annotations\[6\]", r"annotations\[6\]\.segmentation"
EXPECTED = "expected an integer or a string"
#: (the change, what the message says, the item it names)
HOSTILE_COCO: list[tuple[Change, str, str]] = [
    (lambda d: d["images"][1].update(id=[8]), rf"\.id is \[8\], {EXPECTED}", IMAGE1),
    (lambda d: d["images"][1].update(id={"a": 1}), rf"\.id is \{{'a': 1\}}, {EXPECTED}", IMAGE1),
    (lambda d: d["images"][1].update(id=8.0), rf"\.id is 8\.0, {EXPECTED}", IMAGE1),
    (lambda d: d["images"][1].update(id=True), rf"\.id is True, {EXPECTED}", IMAGE1),
    (lambda d: d["images"][1].update(id=2**64), r"\.id is 18446744073709551616, beyond the 64-bit", IMAGE1),
    (ann6(image_id=[7]), rf"\.image_id is \[7\], {EXPECTED}", ANN6),
    (ann6(image_id={}), rf"\.image_id is \{{\}}, {EXPECTED}", ANN6),
    (ann6(category_id=[3]), r"\.category_id is \[3\], expected a category's integer id", ANN6),
    (ann6(category_id=3.0), r"\.category_id is 3\.0, expected", ANN6),
    (ann6(category_id=True), r"\.category_id is True, expected", ANN6),
    (ann6(category_id=2**70), r"\.category_id 1180591620717411303424 is not in categories", ANN6),
    (ann6(id=[1]), rf"\.id is \[1\], {EXPECTED}", ANN6),
    (ann6(id=1.5), rf"\.id is 1\.5, {EXPECTED}", ANN6),
    (ann6(id=-(2**63) - 1), r"\.id is -9223372036854775809, beyond the 64-bit", ANN6),
    (lambda d: d["categories"][1].update(id=2**63), r"\.id is 9223372036854775808, beyond", r"categories\[1\]"),
    (lambda d: d["categories"][1].update(id=3), r"\.id 3 is repeated", r"categories\[1\]"),
    (rle6(size=None), r"\.size is None, the image is \[20, 30\]", SEG6),
    (rle6(size=[20.0, 30.0]), r"\.size is \[20\.0, 30\.0\], the image is", SEG6),
    (rle6(size="20x30"), r"\.size is '20x30', the image is", SEG6),
    (rle6(counts="~~~"), r": counts string has '~' at position 0", SEG6),
    (rle6(counts=None), r": counts must be a str, bytes or a list of ints", SEG6),
    (rle6(counts=[1, 2]), r": counts sum to 3 but size 20x30 needs 600", SEG6),
    (ann6(iscrowd="yes"), r"\.iscrowd is 'yes', expected 0 or 1", ANN6),
    (ann6(iscrowd=2), r"\.iscrowd is 2, expected 0 or 1", ANN6),
    (ann6(iscrowd=[1]), r"\.iscrowd is \[1\], expected 0 or 1", ANN6),
    (ann6(iscrowd=1.0), r"\.iscrowd is 1\.0, expected 0 or 1", ANN6),
    (ann6(bbox=[1, 1, 2**1100, 5]), r"\.bbox is a list, expected \[x, y, w, h\]", ANN6),
    (ann6(bbox=[1, 1, float("nan"), 5]), r"\.bbox is \[1, 1, nan, 5\], expected", ANN6),
    (ann6(bbox=[1, 1, float("inf"), 5]), r"\.bbox is \[1, 1, inf, 5\], expected", ANN6),
    (ann6(bbox=[1, True, 5, 5]), r"\.bbox is \[1, True, 5, 5\], expected", ANN6),
    (ann6(bbox=[1, 1, -5, 5]), r"\.bbox is \[1, 1, -5, 5\]: a negative width", ANN6),
    (ann6(bbox=None), r"\.bbox is None, expected", ANN6),
    (ann6(area=nested(600)), r"\.area\[0\]\[0\].* is nested more than 128 levels", ANN6),
    (rle6(note=nested(600, kind="dict")), r"\.note\.k\.k.* is nested more than", SEG6),
    (lambda d: d["annotations"].__setitem__(6, [1, 2]), r" is \[1, 2\], expected an annotation object", ANN6),
    (lambda d: d["annotations"][6].update(segmentation=[nested(900)]), r"\[0\] must be a flat list", SEG6),
]


@pytest.mark.parametrize(("change", "message", "item"), HOSTILE_COCO)
def test_hostile_coco_values_are_refused_naming_the_file_and_the_item(
    change: Change, message: str, item: str, tmp_path: Path
) -> None:
    data = coco_data()
    change(data)
    with pytest.raises(sm.ResponseFormatError, match=rf"^{item}{message}"):
        sm.from_coco(data)
    try:
        text = json.dumps(data, allow_nan=False)
    except (ValueError, RecursionError):  # no JSON file holds nan; the json module writes no such depth
        return
    path = tmp_path / "gt.json"
    path.write_text(text)
    with pytest.raises(sm.ResponseFormatError) as info:
        sm.from_coco(path)
    # The file and the item; orjson reads an integer past 64 bits as a float, or refuses one past any float.
    assert re.match(rf"{re.escape(str(path))}: ({item}|not valid JSON)", str(info.value)), str(info.value)


def test_from_coco_keeps_crowds_for_the_writer() -> None:
    items = sm.from_coco(coco_data())
    assert [name for name, _ in items] == ["a.png", "b.png"]
    crowds = [[e["iscrowd"] for e in preds.extras] for _, preds in items]
    assert crowds == [[0, 0, 0, 1], [0, 0, 0, 0]]  # annotation 6 is the first image's fourth
    _, first = items[0]
    assert first.to_dict()["predictions"][3]["iscrowd"] == 1 and first.has_mask.all()
    assert first.detection_id.tolist() == ["10", "12", "14", "16"]


def test_coco_ids_may_be_integers_or_strings_as_pycocotools_takes() -> None:
    data = coco_data()
    data["images"][1]["id"] = "b"
    for ann in data["annotations"][1::2]:
        ann["image_id"] = "b"
    data["annotations"][7]["id"] = "last"
    _, second = sm.from_coco(data)[1]
    assert second.detection_id.tolist() == ["11", "13", "15", "last"]


@pytest.mark.parametrize(
    ("token", "message"),
    [("9223372036854775808", "the class 9223372036854775808 is beyond the 64-bit"),
     ("18446744073709551616", "the class 18446744073709551616 is beyond"),
     ("1e30", "the class 1000000000000000019884624838656 is beyond"),
     ("-1", "the class -1 is not a non-negative integer")],
)  # fmt: skip
def test_yolo_class_ids_past_int64_are_refused(tmp_path: Path, token: str, message: str) -> None:
    path = tmp_path / "x.txt"
    path.write_text(f"0 0.1 0.1 0.5 0.1 0.5 0.5\n{token} 0.1 0.1 0.5 0.1 0.5 0.5\n")
    with pytest.raises(sm.ResponseFormatError, match=rf"x\.txt line 2: {message}"):
        sm.from_yolo(path, (10, 10))


def test_yolo_class_ids_are_read_exactly(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text("9007199254740993 0.1 0.1 0.5 0.1 0.5 0.5\n9223372036854775807 0.1 0.1 0.5 0.1 0.5 0.5\n")
    [(_, preds)] = sm.from_yolo(path, (10, 10))  # past 2**53: a float would read 9007199254740992
    assert preds.class_id.tolist() == [9007199254740993, 2**63 - 1]
    assert preds.class_name.tolist() == ["9007199254740993", "9223372036854775807"]


@pytest.mark.parametrize("kind", ["list", "dict"])
@pytest.mark.parametrize("depth", [500, 1000, 5000])
def test_nesting_on_the_parse_and_copy_paths_is_bounded(kind: str, depth: int) -> None:
    deep = nested(depth, kind=kind)
    # The same nesting as JSON text, written by hand: orjson and json refuse to write it.
    text = ("[" * depth + "1" + "]" * depth) if kind == "list" else ('{"k": ' * depth + "1" + "}" * depth)
    empty = sm.encode(np.zeros((8, 8), bool))[0]
    cases = [
        (response(prediction(), tracker="DEEP"), r"^tracker(\[0\]|\.k){6}\.\.\. is nested more than 128 levels"),
        (response(prediction(), prediction(parent="DEEP")), r"^predictions\[1\]\.parent(\[0\]|\.k)"),
        (response(prediction(rle={**empty, "note": "DEEP"})), r"^predictions\[0\]\.rle\.note(\[0\]|\.k)"),
        ({"model_predictions": response(prediction(), time="DEEP")}, r"^model_predictions\.time(\[0\]|\.k)"),
        ({"predictions": "DEEP"}, r"^predictions(\[0\])? is a (list|dict), expected (a list|an object)"),
        ({"predictions": ["DEEP"]}, r"^predictions\[0\]( is a list, expected an object|\.x is missing)"),
    ]
    for data, message in cases:
        body = orjson.dumps(data).replace(b'"DEEP"', text.encode())
        with pytest.raises(sm.ResponseFormatError, match=message):
            sm.Predictions.from_response(swap(data, deep))
        # orjson reads up to 1024 levels: beyond, the body is refused as JSON
        with pytest.raises(sm.ResponseFormatError, match=message if depth < 1024 else "not valid JSON"):
            sm.Predictions.from_response(body)


def swap(value: Any, deep: Any) -> Any:
    """``value`` with the sentinel "DEEP" replaced by the nested value, wherever it is."""
    if value == "DEEP":
        return deep
    if isinstance(value, dict):
        return {k: swap(v, deep) for k, v in value.items()}
    if isinstance(value, list):
        return [swap(v, deep) for v in value]
    return value


def test_nesting_up_to_the_limit_is_kept_and_written_back() -> None:
    deep = nested(sm.limits.MAX_JSON_DEPTH - 3, kind="dict")  # the response, predictions, the prediction
    preds = sm.Predictions.from_response(response(prediction(parent=deep), tracker=nested(120)))
    text = orjson.dumps(preds.to_dict())  # orjson writes 254 levels: whatever is kept can be written
    assert sm.Predictions.from_response(text).extras[0]["parent"] == deep
    with pytest.raises(sm.ResponseFormatError, match="nested more than 128"):
        sm.Predictions.from_response(response(prediction(parent=nested(sm.limits.MAX_JSON_DEPTH - 2, kind="dict"))))


def test_what_a_predictions_holds_is_its_own() -> None:
    data = response(prediction(parent={"a": [1]}), meta={"b": [2]})
    preds = sm.Predictions.from_response(data)
    data["predictions"][0]["parent"]["a"].append(9)
    data["meta"]["b"].append(9)
    assert preds.extras[0]["parent"] == {"a": [1]} and preds.meta["meta"] == {"b": [2]}
    preds.extras[0]["parent"]["a"].append(7)
    assert preds.extras[0]["parent"] == {"a": [1]}
