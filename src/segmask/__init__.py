"""segmask: instance-segmentation predictions to masks and numbers you can trust.

>>> import segmask as sm
>>> masks = sm.rasterize([[[1, 1], [3, 1], [3, 3], [1, 3]]], image_size=(5, 5))
>>> masks.area.tolist(), masks.to_rle()
([9], [{'size': [5, 5], 'counts': '6320004'}])

The face is lazy (PEP 562): ``import segmask`` loads the errors and nothing
else; each name loads its module on first use (``sm.Masks`` numpy and the
kernel, ``sm.RoboflowClient`` requests), and so does a submodule named as an
attribute (``sm.limits``). ``__all__``, ``dir()``, type checkers and editors
see every name (the imports under ``TYPE_CHECKING``).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from ._version import __version__
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

if TYPE_CHECKING:
    from .boxes import BOX_FORMATS, convert_boxes
    from .coco import from_coco, to_coco, to_coco_results
    from .datasets import WriteReport
    from .draw import draw
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

#: Where each public name lives: its module is imported when the name is first used.
_LAZY: dict[str, str] = {
    "BOX_FORMATS": "boxes",
    "convert_boxes": "boxes",
    "from_coco": "coco",
    "to_coco": "coco",
    "to_coco_results": "coco",
    "WriteReport": "datasets",
    "draw": "draw",
    "BACKENDS": "evaluate",
    "METRICS": "evaluate",
    "confusion_matrix": "evaluate",
    "evaluate": "evaluate",
    "RoboflowClient": "fetch",
    "Parts": "geometry",
    "PolygonCheck": "geometry",
    "clip": "geometry",
    "polygon_area": "geometry",
    "repair": "geometry",
    "simplify": "geometry",
    "validate": "geometry",
    "box_iou": "iou",
    "iou": "iou",
    "RLE": "masks",
    "Masks": "masks",
    "Runs": "masks",
    "decode": "masks",
    "encode": "masks",
    "box_nms": "nms",
    "nms": "nms",
    "from_png": "png",
    "to_png": "png",
    "Predictions": "predictions",
    "rasterize": "raster",
    "RULES": "rules",
    "merge_tiles": "tiling",
    "tiles": "tiling",
    "coco_polygons": "tracing",
    "masks_to_polygons": "tracing",
    "from_yolo": "yolo",
    "to_yolo": "yolo",
}

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


def __getattr__(name: str) -> Any:
    """A public name, loaded with its module on first use; a submodule (``segmask.limits``) by its name."""
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
        globals()[name] = value
        return value
    if not name.startswith("_"):
        try:
            return importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Face(types.ModuleType):
    """The package's module type: importing a submodule binds it on the package, except where a public
    function has the submodule's name (``draw``, ``evaluate``, ``iou``, ``nms``): the function stays."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _LAZY.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Face
