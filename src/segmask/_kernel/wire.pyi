# Types of src/segmask/_kernel/wire.pyx, for mypy and editors.
from typing import Any

import numpy as np
from numpy.typing import NDArray

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

def parse_predictions(
    preds: list[Any], max_coord: float, split: tuple[NDArray[np.float64], NDArray[np.int64]] | None = None
) -> tuple[Any, Any]: ...
def split_points(
    data: bytes | bytearray | memoryview,
) -> tuple[bytes, NDArray[np.float64], NDArray[np.int64]] | None: ...
