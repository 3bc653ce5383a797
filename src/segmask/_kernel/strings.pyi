# Types of src/segmask/_kernel/strings.pyx, for mypy and editors.
from typing import Any

import numpy as np
from numpy.typing import NDArray

BAD_CHAR: int
TRUNCATED: int
TOO_LONG: int
BAD_RUN: int
BAD_SUM: int
NOT_ASCII: int
NOT_TEXT: int

def decode_counts(
    strings: list[Any], hw: int
) -> tuple[NDArray[np.uint32], NDArray[np.int64], NDArray[np.int64], tuple[int, int, int, int] | None]: ...
def encode_counts(counts_array: NDArray[np.uint32], offsets_array: NDArray[np.int64]) -> list[str]: ...
def rle_dicts(strings: list[str], h: int, w: int) -> list[dict[str, Any]]: ...
def rle_texts(rles: list[Any]) -> tuple[int, int, list[Any], bool] | None: ...
