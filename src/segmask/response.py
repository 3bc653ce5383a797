"""The inference API's JSON, both ways: a response into columns, and columns back into a response.

What the hosted API sends (and what this reads)::

    {"predictions": [{"x": 320.5, "y": 210, "width": 81, "height": 60,
                      "class": "cat", "confidence": 0.91, "class_id": 0,
                      "detection_id": "…", "points": [{"x": 281, "y": 180}, …]}],
     "image": {"width": 640, "height": 480}, "time": 0.03, "inference_id": "…"}

``x, y`` is the centre of the box. ``class_id``, ``detection_id``, ``image``
and the rest may be missing or null; unknown fields are kept and written back.
With ``response_mask_format=rle`` a prediction carries ``"rle": {"size": [h,
w], "counts": str}`` (some tools say ``rle_mask``, read the same and written
back as ``rle``) instead of ``points``.
The official ``roboflow`` package writes the image size as strings
(``"480"``), or ``"Undefined"`` for URL images; Roboflow Workflows put the
response under an output name (``{"model_predictions": {...}}``): both are read.

Bytes and text are parsed with orjson, the predictions' fields and points by
the compiled kernel, every value checked, into the internal columns
(:class:`segmask._columns.Columns`, which :class:`segmask.Predictions`
wraps). Nesting is bounded on every path (a body, a dict, the copies this
keeps of ``meta`` and of each prediction's other fields): past
:data:`segmask.limits.MAX_JSON_DEPTH` levels it is an error, not a crash. A
problem is a :class:`ResponseFormatError` that starts with its JSON path,
e.g. ``predictions[3].points[7].x``.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import shapely
from numpy.typing import NDArray

from . import _kernel, _validate, limits
from ._columns import Columns, RLERef
from .errors import InputError, ResponseFormatError, RLEError
from .rle import parse_rles

__all__ = ["copy_json", "loads", "needs_rle", "parse", "parse_json", "read", "read_bytes", "read_dataset", "to_dict"]

#: Largest response file read from disk (as the client's default body cap).
MAX_FILE_BYTES = 64 * 2**20


def loads(data: bytes | bytearray | memoryview | str, where: str = "") -> Any:
    """JSON bytes or text -> Python objects, with orjson; a :class:`ResponseFormatError` when it is not JSON."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        message = str(exc)
    raise ResponseFormatError(f"{where}not valid JSON: {message}")


def read(source: str | os.PathLike[str]) -> Any:
    """A response file, read whole up to :data:`MAX_FILE_BYTES`; errors start with its path."""
    return loads(read_bytes(source), f"{os.fspath(source)}: ")


def read_dataset(source: str | os.PathLike[str]) -> Any:
    """A COCO file (ground truth or results), read whole up to :data:`segmask.limits.MAX_DATASET_BYTES`."""
    return loads(read_bytes(source, limits.MAX_DATASET_BYTES, "segmask.limits.MAX_DATASET_BYTES"), f"{source}: ")


def read_bytes(source: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES, limit: str = "a response's") -> bytes:
    """A file's bytes, up to ``max_bytes`` (named ``limit`` in the message); an :class:`InputError` naming the path."""
    path = Path(source)
    problem = None
    try:
        with path.open("rb") as f:
            data = f.read(max_bytes + 1)
        if len(data) > max_bytes:
            problem = f"larger than {max_bytes} bytes, {limit} limit"
    except FileNotFoundError:
        problem = "no such file"
    except IsADirectoryError:
        problem = "is a folder, not a JSON file"
    except OSError as exc:
        problem = exc.strerror or str(exc)
    if problem is not None:
        raise InputError(f"{path}: {problem}")
    return data


def parse_json(data: bytes | bytearray | memoryview | str, *, key: str | None = None, where: str = "") -> Columns:
    """JSON bytes or text of one response -> its columns, as ``parse(loads(data))`` but faster.

    The points arrays, most of a response, are read by the kernel straight
    from the bytes (:func:`segmask._kernel.wire.split_points`) and orjson parses the
    rest. Whenever the body is not in that plain form, or anything in it is
    wrong, the whole body takes the general path, which gives the result or
    the error message.
    """
    if key is None:
        raw = data.encode() if isinstance(data, str) else data
        split = _kernel.wire.split_points(raw)
        if split is not None:
            rest, coords, offsets = split
            try:
                return parse(orjson.loads(rest), split=(coords, offsets))
            except (orjson.JSONDecodeError, ResponseFormatError):
                pass  # the general path says what is wrong
    return parse(loads(data, where), key=key)


def parse(obj: Any, *, key: str | None = None, root: str = "", split: tuple[Any, Any] | None = None) -> Columns:
    """One parsed response (a dict) -> its columns; a Workflows output dict is opened first.

    ``split`` is for :func:`parse_json`: the points arrays read from the bytes.
    """
    obj, output = _unwrap(obj, key, root)
    if output is not None:
        split = None  # the points were read from the top level, not from a Workflows output
        root = f"{root}{output}."
    preds = obj.get("predictions")
    if not isinstance(preds, list):
        raise ResponseFormatError(f"{root}predictions is {_kind(preds)}, expected a list of predictions")
    image_size, image_meta = _image_size(obj.get("image"), f"{root}image")
    # Copies: the caller's dict may change later; what the columns hold must not.
    meta = {k: copy_json(v, f"{root}{k}", 1) for k, v in obj.items() if k not in ("predictions", "image")}
    if image_meta is not None:
        meta["image"] = copy_json(image_meta, f"{root}image", 1)
    columns, error = _kernel.wire.parse_predictions(preds, limits.MAX_COORD, split)
    if error is not None:
        if error[0] == _kernel.wire.NOT_PLAIN:
            raise ResponseFormatError("the points are not in the plain form")
        raise ResponseFormatError(_problem(error, preds, root))
    box, conf, names, class_id, det, coords, offsets, has_points, rle_refs, extras = columns
    rles = _rles(rle_refs, root)
    owned = tuple(copy_json(e, f"{root}predictions[{i}]", 2) if e else None for i, e in enumerate(extras))
    try:
        return Columns(image_size, box, conf, names, class_id, np.array(det, dtype=object), coords, offsets,
                       has_points.astype(bool), rles, owned, meta,
                       at=lambda i: f"{root}predictions[{i}].class")  # fmt: skip
    except InputError as exc:
        raise ResponseFormatError(str(exc)) from None


def _unwrap(obj: Any, key: str | None, root: str) -> tuple[dict[str, Any], str | None]:
    """The response itself and the Workflows output it is under (None: ``obj`` is the response)."""
    if isinstance(obj, list):
        raise ResponseFormatError(
            f"{root or 'the input '}is a list of {len(obj)} items, not one response: parse each with "
            "Predictions.from_response(item) (a Workflows result: Predictions.from_response(result[0]))"
        )
    if not isinstance(obj, dict):
        raise ResponseFormatError(f"{root.rstrip('.') or 'response'} must be a JSON object, got {_kind(obj)}")
    if key is not None:
        if key not in obj:
            raise ResponseFormatError(f"{root}{key} is missing; the outputs are: {', '.join(map(str, obj)) or 'none'}")
        inner = obj[key]
        if not isinstance(inner, dict):
            raise ResponseFormatError(f"{root}{key} is {_kind(inner)}, expected a response object")
        return inner, key
    if "predictions" in obj:
        return obj, None
    outputs = [k for k, v in obj.items() if isinstance(v, dict) and isinstance(v.get("predictions"), list)]
    if len(outputs) == 1:
        inner = obj[outputs[0]]
        assert isinstance(inner, dict)
        return inner, outputs[0]
    if len(outputs) > 1:
        raise ResponseFormatError(
            f"{root}holds {len(outputs)} responses ({', '.join(outputs)}): pass key= to say which"
        )
    raise ResponseFormatError(f"{root}predictions is missing, expected a list of predictions")


def _image_size(image: Any, at: str) -> tuple[tuple[int, int] | None, Any]:
    """``(height, width)`` from the response's ``image``, or None when it is not given.

    Returns the size and what to keep in ``meta`` (an ``image`` that does not
    give a size, such as ``{"width": "Undefined"}``, is kept as it came).
    """
    if image is None:
        return None, None
    if not isinstance(image, dict):
        raise ResponseFormatError(f"{at} is {_kind(image)}, expected an object with width and height")
    w, h = image.get("width"), image.get("height")
    if (w is None and h is None) or "Undefined" in (w, h):
        return None, image
    values = []
    for name, v in (("height", h), ("width", w)):
        number: float | None = None
        if isinstance(v, bool):
            number = None
        elif isinstance(v, str):
            try:
                number = float(v)
            except ValueError:
                number = None
        elif isinstance(v, int | float | np.integer | np.floating):
            number = float(v)
        if number is None or not math.isfinite(number) or number != int(number) or number < 1:
            raise ResponseFormatError(f"{at}.{name} is {_kind(v)}, expected a positive integer")
        values.append(int(number))
    try:
        return _validate.image_size(tuple(values), at), None
    except InputError as exc:
        raise ResponseFormatError(str(exc)) from None


def _rles(refs: list[Any], root: str) -> tuple[RLERef | None, ...]:
    """Each prediction's RLE with its runs decoded and checked, or None."""
    out: list[RLERef | None] = [None] * len(refs)
    for i, ref in enumerate(refs):
        if ref is None:
            continue
        name, rle = ref
        at = f"{root}predictions[{i}].{name}"
        try:
            size, counts, _, _, _ = parse_rles([rle], name=at)
        except RLEError as exc:
            raise ResponseFormatError(str(exc).replace(f"{at}[0]", at)) from None
        assert size is not None  # one RLE was parsed
        out[i] = RLERef(name, copy_json(rle, at, 3), size, counts)
    return tuple(out)


class _TooDeep(Exception):
    """Inside :func:`copy_json` only: a value nested past the limit; ``path`` is filled on the way out."""

    def __init__(self) -> None:
        super().__init__()
        self.path: list[str] = []


_SCALARS = frozenset({str, int, float, bool, type(None)})


def copy_json(value: Any, where: str = "", levels: int = 0) -> Any:
    """A copy of a JSON value (dicts, lists and scalars; anything else deep-copied), its nesting bounded.

    ``levels`` are the levels above ``value`` already (1 for a top-level
    field of a response); past :data:`segmask.limits.MAX_JSON_DEPTH` in all
    a :class:`ResponseFormatError` names ``where`` and the path down to it.

    Examples
    --------
    >>> copy_json({"a": [1, {"b": None}]})
    {'a': [1, {'b': None}]}
    >>> deep = []
    >>> for _ in range(500):
    ...     deep = [deep]
    >>> copy_json({"tracker": deep}, "meta")
    Traceback (most recent call last):
    ...
    segmask.errors.ResponseFormatError: meta.tracker[0][0][0][0][0]... is nested more than 128 levels deep ...
    """
    try:
        return _copy(value, limits.MAX_JSON_DEPTH - levels)
    except _TooDeep as exc:
        path = "".join(reversed(exc.path))
        shown = path if len(exc.path) <= 6 else "".join(reversed(exc.path[-6:])) + "..."
        raise ResponseFormatError(
            f"{where}{shown} is nested more than {limits.MAX_JSON_DEPTH} levels deep (segmask.limits.MAX_JSON_DEPTH)"
        ) from None


def _copy(value: Any, room: int) -> Any:
    kind = type(value)
    if kind is dict:
        if room <= 0:
            raise _TooDeep
        out = {}
        for k, v in value.items():
            try:
                out[k] = v if type(v) in _SCALARS else _copy(v, room - 1)
            except _TooDeep as exc:
                exc.path.append(f".{k}")
                raise
        return out
    if kind is list or kind is tuple:
        if room <= 0:
            raise _TooDeep
        items = []
        for j, v in enumerate(value):
            try:
                items.append(v if type(v) in _SCALARS else _copy(v, room - 1))
            except _TooDeep as exc:
                exc.path.append(f"[{j}]")
                raise
        return items if kind is list else tuple(items)
    if kind in _SCALARS:
        return value
    return copy.deepcopy(value)


# The kernel's problems with a prediction's own fields: the message, from where it is ({at}),
# the field ({key}), the value as found ({value!r}) or described ({kind}).
_FIELD_PROBLEMS = {
    _kernel.wire.PRED_NOT_OBJECT: "{at} is {kind}, expected an object",
    _kernel.wire.FIELD_NOT_NUMBER: "{at}.{key} is {kind}, expected a number",
    _kernel.wire.FIELD_NOT_FINITE: "{at}.{key} is {value!r}, expected a finite number",
    _kernel.wire.NEGATIVE_SIZE: "{at} has a negative width or height",
    _kernel.wire.CONFIDENCE_RANGE: "{at}.confidence is {value!r}, expected a value in [0, 1]",
    _kernel.wire.CLASS_NOT_STR: "{at}.class is {kind}, expected a string",
    _kernel.wire.CLASS_ID_NOT_INT: "{at}.class_id is {kind}, expected an integer",
    _kernel.wire.DETECTION_ID_NOT_STR: "{at}.detection_id is {kind}, expected a string",
}


def _problem(error: tuple[int, int, Any, Any], preds: list[Any], root: str) -> str:
    code, i, key, value = error
    at = f"{root}predictions[{i}]"
    if code in _FIELD_PROBLEMS:
        return _FIELD_PROBLEMS[code].format(at=at, key=key, value=value, kind=_kind(value))
    points_code, j, axis = key
    points = preds[i]["points"]
    if points_code == _kernel.wire.POINTS_NOT_LIST:
        return f"{at}.points is {_kind(points)}, expected a list of {{x, y}} points"
    point = points[j]
    if points_code == _kernel.wire.POINT_NOT_OBJECT:
        return f"{at}.points[{j}] is {_kind(point)}, expected an object with x and y"
    v = point.get(axis)
    if points_code in (_kernel.wire.POINT_MISSING, _kernel.wire.POINT_NOT_NUMBER):
        return f"{at}.points[{j}].{axis} is {_kind(v)}, expected a number"
    if points_code == _kernel.wire.POINT_NOT_FINITE:
        return f"{at}.points[{j}].{axis} is {v!r}, expected a finite number"
    return f"{at}.points[{j}].{axis} is {v!r}, beyond the supported ±{limits.MAX_COORD:.0f} px"


def _kind(v: Any) -> str:
    if v is None:
        return "missing"
    text = "" if _larger_than(v, 40) else repr(v)  # never the repr of a value nested 1000 deep
    return text if 0 < len(text) <= 40 else f"a {type(v).__name__}"


def _larger_than(v: Any, budget: int) -> bool:
    """Whether ``v`` holds more than ``budget`` items and containers in all (its repr is longer, then)."""
    stack, seen = [v], 0
    while stack:
        x = stack.pop()
        seen += 1
        if isinstance(x, dict | list | tuple):
            if seen + len(x) > budget:
                return True
            stack.extend(x.values() if isinstance(x, dict) else x)
        if seen > budget:
            return True
    return False


def needs_rle(columns: Columns) -> list[int]:
    """The instances whose shape has holes or several parts: :func:`to_dict` writes them as the API's RLE variant."""
    return [i for i, s in enumerate(columns.shapes or ()) if _needs_rle(s)]


def to_dict(columns: Columns, shape_rles: Mapping[int, dict[str, Any]]) -> dict[str, Any]:
    """The response in the API's JSON shape; see :meth:`Predictions.to_dict`.

    ``shape_rles`` holds the RLE of each instance of :func:`needs_rle`, by index.
    """
    out: list[dict[str, Any]] = []
    polygons = columns.polygons()
    boxes = columns.cxcywh.tolist()
    conf = columns.confidence.tolist()
    names = columns.class_name.tolist()
    ids = columns.class_id.tolist()
    det = columns.detection_id.tolist()
    for i in range(len(columns)):
        x, y, w, h = boxes[i]
        p: dict[str, Any] = {"x": x, "y": y, "width": w, "height": h, "confidence": conf[i], "class": names[i]}
        if ids[i] >= 0:
            p["class_id"] = ids[i]
        if det[i] is not None:
            p["detection_id"] = det[i]
        if i in shape_rles:
            p["rle"] = shape_rles[i]
        else:
            poly = polygons[i]
            if poly is not None:
                p["points"] = [{"x": a, "y": b} for a, b in _ring_points(poly).tolist()]
        ref = columns.rles[i]
        if ref is not None:
            p["rle"] = copy_json(ref.rle)
        extra = columns.extras[i]
        if extra:
            p.update(copy_json(extra))
        out.append(p)
    result: dict[str, Any] = {"predictions": out}
    if columns.image_size is not None:
        result["image"] = {"width": columns.image_size[1], "height": columns.image_size[0]}
    result.update(copy_json(columns.meta))
    return result


def _needs_rle(shape: Any) -> bool:
    return isinstance(shape, shapely.Geometry) and (shape.geom_type != "Polygon" or len(shape.interiors) > 0)


def _ring_points(poly: Any) -> NDArray[np.float64]:
    if isinstance(poly, shapely.Geometry):
        return np.asarray(poly.exterior.coords, dtype=np.float64)[:-1]
    return np.asarray(poly, dtype=np.float64)
