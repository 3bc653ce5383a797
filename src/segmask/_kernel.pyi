# Types of the compiled kernel (src/segmask/_kernel.pyx), for mypy and editors.
from typing import Any

import numpy as np
from numpy.typing import NDArray

U32 = NDArray[np.uint32]
I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
U8 = NDArray[np.uint8]
Error = tuple[int, int, int, int] | None

BAD_CHAR: int
TRUNCATED: int
TOO_LONG: int
BAD_RUN: int
BAD_SUM: int
NOT_ASCII: int
NOT_TEXT: int
UNION: int
INTERSECTION: int
DIFFERENCE: int
XOR: int
POINTS_NOT_LIST: int
POINT_NOT_OBJECT: int
POINT_MISSING: int
POINT_NOT_NUMBER: int
POINT_NOT_FINITE: int
POINT_TOO_FAR: int
PRED_NOT_OBJECT: int
FIELD_NOT_NUMBER: int
FIELD_NOT_FINITE: int
NEGATIVE_SIZE: int
CONFIDENCE_RANGE: int
CLASS_NOT_STR: int
CLASS_ID_NOT_INT: int
DETECTION_ID_NOT_STR: int
POINTS_ERROR: int
NOT_PLAIN: int

def decode_strings(strings: list[Any], hw: int) -> tuple[U32, I64, I64, Error]: ...
def encode_strings(counts_array: U32, offsets_array: I64) -> list[str]: ...
def freeze(*arrays: Any) -> None: ...
def take_ragged(values: Any, offsets: I64, sel: I64) -> tuple[Any, I64]: ...

Runs = tuple[U32, I64, I64]  # counts, offsets, area

def runs_area(counts: U32, offsets: I64) -> I64: ...
def runs_boxes(counts: U32, offsets: I64, h: int) -> I64: ...
def rle_texts(rles: list[Any]) -> tuple[int, int, list[Any], bool] | None: ...
def dense_to_runs(masks: U8) -> Runs: ...
def runs_to_crop(counts: U32, start: int, stop: int, h: int, bx: int, by: int, out: U8) -> None: ...
def pair_op(ca: U32, oa: I64, cb: U32, ob: I64, op: int) -> Runs: ...
def group_union(counts: U32, offsets: I64, members: I64, group_offsets: I64, hw: int) -> Runs: ...
def toggles_to_runs(positions: I64, offsets: I64, hw: int) -> Runs: ...
def iou_matrix(
    ca: U32,
    oa: I64,
    ba: I64,
    area_a: I64,
    cb: U32,
    ob: I64,
    bb: I64,
    area_b: I64,
    crowd: U8,
    same: bool,
    h: int,
    out: F64,
) -> None: ...
def nms(
    counts: U32, offsets: I64, boxes: I64, area: I64, order: I64, classes: I64, threshold: float, h: int
) -> I64: ...
def box_iou(a: F64, b: F64, crowd: U8, out: F64) -> None: ...
def box_nms(boxes: F64, order: I64, classes: I64, threshold: float) -> I64: ...
def coco_polygons(coords: F64, offsets: I64, h: int, w: int) -> Runs: ...
def contour_polygons(points: F64, offsets: I64, h: int, w: int, holes: U8) -> Runs: ...
def points_array(polygons: list[Any], max_coord: float) -> tuple[F64 | None, I64 | None, Any]: ...
def parse_predictions(preds: list[Any], max_coord: float, split: tuple[F64, I64] | None = None) -> tuple[Any, Any]: ...
def split_offsets(coords: F64, parts: I64, has_points: U8, taken: int, max_coord: float) -> tuple[Any, Any]: ...
def split_points(data: bytes | bytearray | memoryview) -> tuple[bytes, F64, I64] | None: ...
def polygon_batch(polygons: list[Any], max_coord: float) -> tuple[F64, I64] | None: ...
def rasterize_list(polygons: list[Any], max_coord: float, h: int, w: int, coco: bool) -> Runs | None: ...
def runs_translate(
    counts: U32, offsets: I64, h: int, w: int, dx: int, dy: int, H: int, W: int
) -> tuple[U32, I64, I64]: ...
