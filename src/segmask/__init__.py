"""segmask: instance-segmentation predictions to masks and numbers you can trust.

>>> import segmask as sm
>>> masks = sm.rasterize([[[1, 1], [3, 1], [3, 3], [1, 3]]], image_size=(5, 5))
>>> masks.area.tolist(), masks.to_rle()
([9], [{'size': [5, 5], 'counts': '6320004'}])
"""

from ._polygons import polygon_area
from ._version import __version__
from .draw import draw
from .errors import (
    APIConnectionError,
    APIError,
    AuthError,
    BadRequestError,
    BadResponseError,
    ImageError,
    InputError,
    MaskError,
    ModelNotFoundError,
    PolygonError,
    RateLimitError,
    ResponseFormatError,
    RLEError,
    SegmaskError,
    ServerError,
)
from .evaluate import METRICS, evaluate
from .exports import coco_polygons, from_coco, from_png, from_yolo, to_coco, to_coco_results, to_png, to_yolo
from .fetch import RoboflowClient
from .geometry import Parts, PolygonCheck, clip, repair, simplify, validate
from .masks import RLE, Masks, decode, encode
from .ops import box_iou, iou
from .postprocess import box_nms, masks_to_polygons, nms
from .predictions import Predictions
from .raster import RULES, rasterize

__all__ = [
    "METRICS",
    "RLE",
    "RULES",
    "APIConnectionError",
    "APIError",
    "AuthError",
    "BadRequestError",
    "BadResponseError",
    "ImageError",
    "InputError",
    "MaskError",
    "Masks",
    "ModelNotFoundError",
    "Parts",
    "PolygonCheck",
    "PolygonError",
    "Predictions",
    "RLEError",
    "RateLimitError",
    "ResponseFormatError",
    "RoboflowClient",
    "SegmaskError",
    "ServerError",
    "__version__",
    "box_iou",
    "box_nms",
    "clip",
    "coco_polygons",
    "decode",
    "draw",
    "encode",
    "evaluate",
    "from_coco",
    "from_png",
    "from_yolo",
    "iou",
    "masks_to_polygons",
    "nms",
    "polygon_area",
    "rasterize",
    "repair",
    "simplify",
    "to_coco",
    "to_coco_results",
    "to_png",
    "to_yolo",
    "validate",
]
