"""segmask: instance-segmentation predictions to masks and numbers you can trust.

>>> import segmask as sm
>>> masks = sm.rasterize([[[1, 1], [3, 1], [3, 3], [1, 3]]], image_size=(5, 5))
>>> masks.area.tolist(), masks.to_rle()
([9], [{'size': [5, 5], 'counts': '6320004'}])
"""

from ._version import __version__
from .boxes import BOX_FORMATS, convert_boxes
from .coco import from_coco, to_coco, to_coco_results
from .datasets import WriteReport
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
    MissingDependencyError,
    ModelNotFoundError,
    PolygonError,
    RateLimitError,
    ResponseFormatError,
    RLEError,
    SegmaskError,
    ServerError,
)
from .evaluate import BACKENDS, METRICS, confusion_matrix, evaluate
from .fetch import RoboflowClient
from .geometry import Parts, PolygonCheck, clip, polygon_area, repair, simplify, validate
from .iou import box_iou, iou
from .masks import RLE, Masks, Runs, decode, encode
from .nms import box_nms, nms
from .png import from_png, to_png
from .predictions import Predictions
from .raster import rasterize
from .rules import RULES
from .tiling import merge_tiles, tiles
from .tracing import coco_polygons, masks_to_polygons
from .yolo import from_yolo, to_yolo

__all__ = [
    "BACKENDS",
    "BOX_FORMATS",
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
    "MissingDependencyError",
    "ModelNotFoundError",
    "Parts",
    "PolygonCheck",
    "PolygonError",
    "Predictions",
    "RLEError",
    "RateLimitError",
    "ResponseFormatError",
    "RoboflowClient",
    "Runs",
    "SegmaskError",
    "ServerError",
    "WriteReport",
    "__version__",
    "box_iou",
    "box_nms",
    "clip",
    "coco_polygons",
    "confusion_matrix",
    "convert_boxes",
    "decode",
    "draw",
    "encode",
    "evaluate",
    "from_coco",
    "from_png",
    "from_yolo",
    "iou",
    "masks_to_polygons",
    "merge_tiles",
    "nms",
    "polygon_area",
    "rasterize",
    "repair",
    "simplify",
    "tiles",
    "to_coco",
    "to_coco_results",
    "to_png",
    "to_yolo",
    "validate",
]
