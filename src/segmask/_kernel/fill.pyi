# Types of src/segmask/_kernel/fill.pyx, for mypy and editors.
from typing import Any

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
I64 = NDArray[np.int64]
Runs = tuple[NDArray[np.uint32], I64, I64]  # counts, offsets, area

def coco_rule(coords: F64, offsets: I64, h: int, w: int) -> Runs: ...
def contour_rule(points: F64, offsets: I64, h: int, w: int, holes: NDArray[np.uint8]) -> Runs: ...
def read_polygons(polygons: list[Any], max_coord: float) -> tuple[F64, I64] | None: ...
def from_lists(polygons: list[Any], max_coord: float, h: int, w: int, coco: bool) -> Runs | None: ...
