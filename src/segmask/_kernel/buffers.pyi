# Types of src/segmask/_kernel/buffers.pyx, for mypy and editors.
from typing import Any

import numpy as np
from numpy.typing import NDArray

def freeze(*arrays: Any) -> None: ...
def take_ragged(values: Any, offsets: NDArray[np.int64], sel: NDArray[np.int64]) -> tuple[Any, NDArray[np.int64]]: ...
