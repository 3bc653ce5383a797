# Types of src/segmask/_kernel/overlap.pyx, for mypy and editors.
import numpy as np
from numpy.typing import NDArray

U32 = NDArray[np.uint32]
I64 = NDArray[np.int64]
F64 = NDArray[np.float64]

def zeros_sparse(rows: int, cols: int) -> F64: ...
def mask_iou_matrix(
    ca_array: U32,
    oa_array: I64,
    ba_array: I64,
    area_a_array: I64,
    cb_array: U32,
    ob_array: I64,
    bb_array: I64,
    area_b_array: I64,
    crowd_array: NDArray[np.uint8],
    same: bool,
    h: int,
    out_array: F64,
) -> None: ...
def greedy_mask_nms(
    counts_array: U32,
    offsets_array: I64,
    boxes_array: I64,
    area_array: I64,
    order_array: I64,
    classes_array: I64,
    threshold: float,
    h: int,
) -> I64: ...
def box_iou_matrix(a_array: F64, b_array: F64, crowd_array: NDArray[np.uint8], out_array: F64) -> None: ...
def greedy_box_nms(boxes_array: F64, order_array: I64, classes_array: I64, threshold: float) -> I64: ...
