"""The one error hierarchy of segmask.

Every error segmask raises on purpose is a :class:`SegmaskError`; errors about
bad input are also :class:`ValueError`, so ``except ValueError`` keeps working::

    SegmaskError
    ├── InputError (ValueError)         an argument segmask cannot use
    │   ├── PolygonError                a polygon: too few points, NaN, odd flat list, ...
    │   ├── MaskError                   a dense mask or a set of masks: shape, values, sizes
    │   ├── RLEError                    a COCO RLE: bad size, bad counts string, wrong sum
    │   ├── ImageError                  an image to send: missing file, bad array
    │   └── ResponseFormatError         an API response or JSON file, with the JSON path
    ├── MissingDependencyError (ImportError)  an optional package this call needs is not installed
    └── APIError                        the inference API refused, failed or was not reached
        ├── AuthError                   401/403: bad key, no access, or an exhausted quota
        ├── ModelNotFoundError          404: no such model or version
        ├── RateLimitError              429, still after the retries
        ├── ServerError                 5xx, still after the retries
        ├── BadRequestError             another 4xx (400, 413, 422, ...)
        ├── BadResponseError            200, but the body is not a response (not JSON, wrong shape, too large)
        └── APIConnectionError          refused, reset, timed out or cut off, after the retries

A 3xx is a plain :class:`APIError` naming its ``Location``: the hosted API
does not redirect, and segmask never follows one (nothing goes to another
host).

Messages name what is wrong and where (the polygon index and point, the RLE
index, the JSON path such as ``predictions[3].points[7].x``, the model and
HTTP status). An API key never appears in a message.
"""

from __future__ import annotations

__all__ = [
    "APIConnectionError",
    "APIError",
    "AuthError",
    "BadRequestError",
    "BadResponseError",
    "ImageError",
    "InputError",
    "MaskError",
    "MissingDependencyError",
    "ModelNotFoundError",
    "PolygonError",
    "RLEError",
    "RateLimitError",
    "ResponseFormatError",
    "SegmaskError",
    "ServerError",
    "status_error",
]


class SegmaskError(Exception):
    """Base class of every error segmask raises on purpose."""


class InputError(SegmaskError, ValueError):
    """An argument has a value segmask cannot use."""


class MissingDependencyError(SegmaskError, ImportError):
    """An optional package this call needs is not installed; the message says how to install it."""


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


class ImageError(InputError):
    """An image to send cannot be used: a missing file, an array of the wrong shape or dtype."""


class APIError(SegmaskError):
    """The inference API refused the request, failed, or could not be reached.

    Attributes
    ----------
    status : int or None
        The HTTP status, None when no answer came.
    model : str
        The ``"project/version"`` asked for.
    """

    def __init__(self, message: str, *, status: int | None = None, model: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.model = model


class AuthError(APIError):
    """401 or 403: the key is missing, wrong, not allowed this model, or out of quota."""


class ModelNotFoundError(APIError):
    """404: no such model or version."""


class RateLimitError(APIError):
    """429: too many requests, still after the retries."""


class ServerError(APIError):
    """5xx: the server failed, still after the retries."""


class BadRequestError(APIError):
    """Another 4xx: the server could not use the request (bad image, bad parameter)."""


class BadResponseError(APIError):
    """The API answered 200, but with a body that is not a response: not JSON, the wrong shape, or too large.

    The server is at fault, not the caller: this is an :class:`APIError`, not
    an :class:`InputError` (a response *file* of the wrong shape is a
    :class:`ResponseFormatError`).
    """


class APIConnectionError(APIError):
    """No usable answer: refused, reset, timed out or cut off, after the retries."""


def status_error(status: int) -> type[APIError]:
    """The error class for an HTTP status that is not 200 (the one place that maps them)."""
    if status < 400:
        return APIError
    if status in (401, 403):
        return AuthError
    if status == 404:
        return ModelNotFoundError
    if status == 429:
        return RateLimitError
    if status >= 500:
        return ServerError
    return BadRequestError
