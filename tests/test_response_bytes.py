"""Responses given as bytes: the kernel's reading of the points straight from JSON agrees with the general path.

``Predictions.from_response(bytes)`` reads each ``points`` array without
making Python objects of it, and falls back to parsing the whole body for
anything not in the plain form. Whatever the text, the result (or the error
message) must be the one the general path gives: ``parse(orjson.loads(data))``.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import segmask as sm
from segmask import response

from .test_predictions import prediction
from .test_predictions import response as make_response

WHITESPACE = st.text(alphabet=" \t\n\r", max_size=2)


def numbers() -> st.SearchStrategy[str]:
    """JSON numbers as a server may write them, and some it must not."""
    ints = st.integers(-(10**20), 10**20).map(str)
    small = st.integers(-5000, 5000).map(str)
    floats = st.floats(-1e6, 1e6, allow_nan=False).map(repr)
    forms = st.sampled_from(
        ["-0", "0.0", "1e2", "1E+2", "2.5e-1", "-3.75E1", "1e400", "1.", ".5", "01", "+1", "0x10", "1e", "Infinity",
         "NaN", "3e8", "-268435457", "123456789012345678901"]
    )  # fmt: skip
    return st.one_of(small, small, small, floats, floats, ints, forms)


@st.composite
def point(draw: st.DrawFn) -> str:
    ws = lambda: draw(WHITESPACE)  # noqa: E731
    x, y = draw(numbers()), draw(numbers())
    entries = [f'"x"{ws()}:{ws()}{x}', f'"y"{ws()}:{ws()}{y}']
    odd = draw(st.sampled_from(["none"] * 60 + ["swap", "extra", "escaped", "string", "missing", "twice", "null"]))
    if odd == "swap":
        entries.reverse()
    elif odd == "extra":
        entries.insert(draw(st.integers(0, 2)), '"z": 1')
    elif odd == "escaped":
        entries[0] = entries[0].replace('"x"', '"\\u0078"')
    elif odd == "string":
        entries[1] = f'"y": "{y}"'
    elif odd == "missing":
        entries.pop()
    elif odd == "twice":
        entries.append('"x": 7')
    elif odd == "null":
        entries[0] = '"x": null'
    return "{" + ws() + f"{ws()},{ws()}".join(entries) + ws() + "}"


@st.composite
def points_value(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["list"] * 8 + ["null", "zero", "string", "nested", "empty"]))
    if kind == "list":
        items = draw(st.lists(point(), min_size=0, max_size=6))
        return "[" + draw(WHITESPACE) + ",".join(items) + draw(WHITESPACE) + "]"
    return {"null": "null", "zero": "0", "string": '"1,2,3"', "nested": "[[1, 2], [3, 4]]", "empty": "[]"}[kind]


@st.composite
def prediction_text(draw: st.DrawFn) -> str:
    fields = {
        "x": "15.5", "y": "12", "width": "11", "height": "8", "confidence": "0.8", "class": '"ca\\"t"',
        "class_id": "3", "detection_id": '"6f2c"', "parent": '{"points": [{"x": 1, "y": 2}], "deep": [[[]]]}',
    }  # fmt: skip
    entries = [f'"{k}": {v}' for k, v in fields.items() if draw(st.integers(0, 9)) > 0]
    if draw(st.integers(0, 9)) > 0:
        entries.insert(draw(st.integers(0, len(entries))), f'"points":{draw(WHITESPACE)}{draw(points_value())}')
    if draw(st.integers(0, 30)) == 0:
        entries.append(f'"points": {draw(points_value())}')
    return "{" + ", ".join(entries) + "}"


@st.composite
def body(draw: st.DrawFn) -> bytes:
    preds = draw(st.lists(prediction_text(), max_size=5))
    if draw(st.integers(0, 20)) == 0:
        preds.append(draw(st.sampled_from(["7", "null", '"p"', "[]"])))
    top = [f'"predictions": [{", ".join(preds)}]', '"image": {"width": 40, "height": "30"}', '"time": 0.5']
    top = draw(st.permutations(top))
    odd = draw(st.sampled_from(["none"] * 10 + ["workflows", "twice", "trailing", "truncated", "bom", "array"]))
    text = "{" + ", ".join(top) + "}"
    if odd == "workflows":
        text = '{"model_predictions": ' + text + "}"
    elif odd == "twice":
        text = text[:-1] + ', "predictions": []}'
    elif odd == "trailing":
        text += " x"
    elif odd == "truncated":
        text = text[: draw(st.integers(0, len(text) - 1))]
    elif odd == "bom":
        text = "\ufeff" + text
    elif odd == "array":
        text = "[" + text + "]"
    return text.encode()


def general(data: bytes) -> tuple[str, Any]:
    """What the general path gives for ``data``: the response written back, or the error."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        return "not json", None
    try:
        return "ok", sm.Predictions(response.parse(obj)).to_dict()
    except sm.SegmaskError as exc:
        return type(exc).__name__, str(exc)


def fast(data: bytes) -> tuple[str, Any]:
    try:
        return "ok", sm.Predictions.from_response(data).to_dict()
    except sm.ResponseFormatError as exc:
        if "not valid JSON" in str(exc):
            return "not json", None
        return type(exc).__name__, str(exc)
    except sm.SegmaskError as exc:
        return type(exc).__name__, str(exc)


def same(a: Any, b: Any) -> bool:
    """Equal, with floats compared bit for bit (-0.0 is not 0.0)."""
    return orjson.dumps(a, option=orjson.OPT_SERIALIZE_NUMPY) == orjson.dumps(b, option=orjson.OPT_SERIALIZE_NUMPY)


@settings(max_examples=400, deadline=None)
@given(body())
def test_bytes_agree_with_the_general_path(data: bytes) -> None:
    got, want = fast(data), general(data)
    assert got[0] == want[0], (got, want)
    assert same(got[1], want[1])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.tuples(st.floats(-1e5, 1e5), st.integers(-(2**28), 2**28)), max_size=8), max_size=6))
def test_coordinates_are_the_same_doubles(polygons: list[list[tuple[float, int]]]) -> None:
    obj = make_response(*[prediction(points=[{"x": x, "y": y} for x, y in poly]) for poly in polygons])
    data = orjson.dumps(obj)
    got, want = sm.Predictions.from_response(data), sm.Predictions(response.parse(orjson.loads(data)))
    assert len(got.polygons) == len(want.polygons)
    for a, b in zip(got.polygons, want.polygons, strict=True):
        assert a.tobytes() == b.tobytes()
    assert same(got.to_dict(), want.to_dict())


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([{"x": 1, "y": "2"}, {"x": 2, "y": 2}, {"x": 3, "y": 3}], "predictions[0].points[0].y is '2'"),
        ([{"x": 1e12, "y": 1}, {"x": 2, "y": 2}, {"x": 3, "y": 3}], "predictions[0].points[0].x is 1000000000000.0"),
        ([{"x": 1}, {"x": 2, "y": 2}], "predictions[0].points[0].y is missing"),
        ("1,2,3", "predictions[0].points is '1,2,3', expected a list"),
        (0, "predictions[0].points is 0, expected a list"),
    ],
)
def test_errors_from_bytes_name_the_point(points: Any, message: str) -> None:
    data = json.dumps(make_response(prediction(), prediction(points=points))).encode()
    with pytest.raises(sm.ResponseFormatError) as info:
        sm.Predictions.from_response(data)
    assert message.replace("[0]", "[1]", 1) in str(info.value)


def test_text_bytes_bytearray_and_memoryview_agree() -> None:
    text = json.dumps(make_response(prediction(), prediction(points=None), prediction(points=[])))
    want = sm.Predictions(response.parse(json.loads(text))).to_dict()
    for data in (text, text.encode(), bytearray(text.encode()), memoryview(text.encode())):
        assert same(sm.Predictions.from_response(data).to_dict(), want)
    assert [None if p is None else len(p) for p in sm.Predictions.from_response(text.encode()).polygons] == [4, None, 0]
