"""The one error hierarchy of segmask.

Every error segmask raises on purpose is a :class:`SegmaskError`; errors about
bad input are also :class:`ValueError`, so ``except ValueError`` keeps working::

    SegmaskError
    └── InputError (ValueError)         an argument segmask cannot use
        ├── PolygonError                a polygon: too few points, NaN, odd flat list, ...
        ├── MaskError                   a dense mask or a set of masks: shape, values, sizes
        ├── RLEError                    a COCO RLE: bad size, bad counts string, wrong sum
        └── ResponseFormatError         an API response or JSON file, with the JSON path

Messages name what is wrong and where (the polygon index and point, the RLE
index, the JSON path such as ``predictions[3].points[7].x``).
"""

from __future__ import annotations

__all__ = [
    "InputError",
    "MaskError",
    "PolygonError",
    "RLEError",
    "ResponseFormatError",
    "SegmaskError",
]


class SegmaskError(Exception):
    """Base class of every error segmask raises on purpose."""


class InputError(SegmaskError, ValueError):
    """An argument has a value segmask cannot use."""


class PolygonError(InputError):
    """A polygon is malformed (too few points, odd flat list, NaN, too far out)."""


class MaskError(InputError):
    """A mask, a stack of masks or a set of masks is malformed or mismatched."""


class RLEError(InputError):
    """A COCO run-length encoding is malformed."""


class ResponseFormatError(InputError):
    """An inference response (or a JSON file) does not have the expected shape.

    The message starts with the JSON path of the problem, for example
    ``predictions[3].points[7].x is 'abc', expected a number``.
    """
