"""segmask: instance-segmentation predictions to masks and numbers you can trust.

>>> import segmask as sm
>>> masks = sm.rasterize([[[1, 1], [3, 1], [3, 3], [1, 3]]], image_size=(5, 5))
>>> masks.area.tolist(), masks.to_rle()
([9], [{'size': [5, 5], 'counts': '6320004'}])
"""

from ._polygons import polygon_area
from .errors import (
    InputError,
    MaskError,
    PolygonError,
    ResponseFormatError,
    RLEError,
    SegmaskError,
)
from .masks import RLE, Masks, decode, encode
from .ops import box_iou, iou
from .predictions import Predictions
from .raster import RULES, rasterize

__version__ = "0.1.0"

__all__ = [
    "RLE",
    "RULES",
    "InputError",
    "MaskError",
    "Masks",
    "PolygonError",
    "Predictions",
    "RLEError",
    "ResponseFormatError",
    "SegmaskError",
    "__version__",
    "box_iou",
    "decode",
    "encode",
    "iou",
    "polygon_area",
    "rasterize",
]
