"""Get instance-segmentation responses from Roboflow's hosted API, as a pipeline needs.

``POST {api_url}/{project}/{version}?api_key=...&confidence=40&overlap=30``
with the base64 image as the body (or ``image=URL`` in the query, which the
server fetches). :class:`RoboflowClient` adds what a pipeline needs around
that call:

* timeouts always: ``(connect, read)`` seconds;
* retries with exponential backoff and jitter, on connection errors,
  timeouts, cut-off replies, 408, 429 and 5xx only, honouring ``Retry-After``;
* one pooled ``requests.Session`` per client, shared by the threads of
  :meth:`RoboflowClient.infer_many`, which keeps ``workers`` requests in
  flight and gives each image its result or its own exception;
* an on-disk cache keyed by the image's content, the model and the
  parameters, written atomically; a corrupt entry is fetched again;
* the API key never in a message, a log line, a ``repr``, a cache file or a
  progress bar. ``requests`` puts the full URL, key included, in its error
  messages and urllib3 logs it at DEBUG level: segmask builds its own errors
  and adds a redacting filter to urllib3's logger.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import json
import logging
import math
import numbers
import os
import random
import re
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import cv2
import numpy as np
import requests
from numpy.typing import NDArray
from requests.adapters import HTTPAdapter
from tqdm import tqdm

from ._io import atomic_write
from ._version import __version__ as _version
from .errors import (
    APIConnectionError,
    ImageError,
    InputError,
    ResponseFormatError,
    ServerError,
    status_error,
)
from .predictions import Predictions

__all__ = ["DEFAULT_API_URL", "QUERY_PARAMETERS", "ImageInput", "RoboflowClient"]

DEFAULT_API_URL = "https://serverless.roboflow.com"

#: What :meth:`RoboflowClient.infer` accepts as an image.
ImageInput = Union[str, "os.PathLike[str]", bytes, bytearray, memoryview, NDArray[np.uint8]]

#: The API's documented query parameters, besides api_key, confidence, overlap and image.
QUERY_PARAMETERS: tuple[str, ...] = (
    "max_detections",
    "response_mask_format",
    "labels",
    "stroke",
    "image_type",
    "disable_preproc_auto_orient",
    "disable_preproc_contrast",
    "disable_preproc_grayscale",
    "disable_preproc_static_crop",
    "disable_active_learning",
)

_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_MODEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[0-9]+$")
_KEY_IN_TEXT = re.compile(r"(api_key=)[^&\s'\"]+")
_MAX_RETRY_AFTER = 60.0

log = logging.getLogger("segmask.fetch")


def _redact(text: str, key: str | None = None) -> str:
    """Mask ``api_key=...`` in a text, and the key itself wherever it appears."""
    text = _KEY_IN_TEXT.sub(r"\1***", text)
    return text.replace(key, "***") if key else text


class _RedactKeys(logging.Filter):
    """Rewrites urllib3's log records, which carry the full URL, without the key."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "api_key=" in message:
            record.msg, record.args = _redact(message), ()
        return True


_filter_lock = threading.Lock()


def _install_log_filter() -> None:
    with _filter_lock:
        logger = logging.getLogger("urllib3.connectionpool")
        if not any(isinstance(f, _RedactKeys) for f in logger.filters):
            logger.addFilter(_RedactKeys())


@dataclass(frozen=True, slots=True)
class _Request:
    """One inference call, checked and encoded; holds no key."""

    model: str
    query: dict[str, str]  # without api_key
    image: bytes | None  # the encoded image file, or None for an image URL
    digest: str  # of the image content (or URL), for the cache


class RoboflowClient:
    """A client for the hosted inference API that is safe by default.

    Parameters
    ----------
    api_key : str, optional
        Defaults to the environment variable ``ROBOFLOW_API_KEY``. Never shown.
    api_url : str
        Default ``https://serverless.roboflow.com``.
    timeout : float or (connect, read)
        Seconds; there is always a timeout.
    retries : int
        Retries after the first try, on connection errors, timeouts, cut-off
        replies, 408, 429 and 5xx (default 3).
    cache_dir : path, optional
        Keep responses on disk, keyed by image content, model and parameters,
        so that a re-run makes no API calls.
    backoff : float
        Base of the exponential backoff in seconds: the n-th retry waits
        between ``backoff * 2**n / 2`` and ``backoff * 2**n``, at most
        ``max_backoff``; a ``Retry-After`` header is honoured instead (up to 60 s).
    max_connections : int
        Size of the connection pool, and the most ``workers`` of ``infer_many``.

    Examples
    --------
    >>> from segmask.testing import FakeRoboflowServer, sample_image_path
    >>> with FakeRoboflowServer(api_keys={"my-key"}) as server:
    ...     client = RoboflowClient(api_key="my-key", api_url=server.url)
    ...     preds = client.infer(sample_image_path(), "shapes/1")
    >>> len(preds), client
    (5, RoboflowClient(api_url='http://127.0.0.1:...', api_key='***', timeout=(5.0, 60.0), retries=3, cache_dir=None))
    """

    def __init__(
        self,
        api_key: str | None = None,
        api_url: str = DEFAULT_API_URL,
        timeout: float | tuple[float, float] = (5, 60),
        retries: int = 3,
        cache_dir: str | os.PathLike[str] | None = None,
        *,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_connections: int = 32,
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("ROBOFLOW_API_KEY")
        if not key:
            raise InputError("no API key: pass api_key=... or set the environment variable ROBOFLOW_API_KEY")
        if not isinstance(api_url, str) or not api_url.startswith(("http://", "https://")):
            raise InputError(f"api_url must start with http:// or https://, got {api_url!r}")
        self._key = key
        self.api_url = api_url.rstrip("/")
        self.timeout = _timeout(timeout)
        self.retries = _count("retries", retries, 0)
        self.backoff = _seconds("backoff", backoff)
        self.max_backoff = _seconds("max_backoff", max_backoff)
        self.max_connections = _count("max_connections", max_connections, 1)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        if self.cache_dir is not None:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=self.max_connections, max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = f"segmask/{_version}"
        _install_log_filter()

    def __repr__(self) -> str:
        cache = str(self.cache_dir) if self.cache_dir is not None else None
        return (
            f"RoboflowClient(api_url={self.api_url!r}, api_key='***', timeout={self.timeout}, "
            f"retries={self.retries}, cache_dir={cache!r})"
        )

    def __reduce__(self) -> Any:
        raise TypeError("a RoboflowClient holds an API key and is not pickled; make one per process")

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def __enter__(self) -> RoboflowClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the public calls --------------------------------------------------------

    def infer(
        self,
        image: ImageInput,
        model: str,
        *,
        confidence: float = 0.4,
        overlap: float = 0.3,
        **params: str | int | float | bool,
    ) -> Predictions:
        """Run ``model`` (``"project/version"``) on one image.

        Parameters
        ----------
        image : path, bytes, numpy array or URL
            A file path; the encoded bytes of an image file; a ``uint8`` array
            in OpenCV's BGR order, ``(H, W, 3)`` or ``(H, W)`` gray (sent as
            JPEG, quality 95); or an ``http(s)://`` URL, passed to the server
            as the ``image`` query parameter and never downloaded here.
        model : str
            ``"project/version"``, e.g. ``"your-model/42"``.
        confidence, overlap : float in [0, 1]
            Fractions, like the confidences in the response; sent on the
            API's 0-100 scale. Values under 0.01 are sent as 0.01, the
            server's floor.
        **params
            Other documented query parameters by name (see ``QUERY_PARAMETERS``),
            e.g. ``max_detections=100``, ``response_mask_format="rle"``.

        Raises
        ------
        AuthError, ModelNotFoundError, RateLimitError, ServerError, BadRequestError, APIConnectionError
            By HTTP status, after the retries.
        ResponseFormatError
            The answer is not a valid response.
        ImageError, InputError
            The image or an argument cannot be used; nothing is sent.
        """
        query = self._query(model, confidence, overlap, params)
        return self._infer(image, model, query)

    def infer_many(
        self,
        images: Sequence[ImageInput],
        model: str,
        *,
        workers: int = 8,
        progress: bool = True,
        confidence: float = 0.4,
        overlap: float = 0.3,
        **params: str | int | float | bool,
    ) -> list[Predictions | Exception]:
        """Run ``model`` on many images, ``workers`` requests in flight, results in input order.

        Each slot of the result holds that image's :class:`Predictions`, or
        the exception its request ended with (a failed image never costs the
        others their results). Images are read and encoded in the worker
        threads, one at a time each. A tqdm progress bar shows when
        ``progress`` is true.

        Examples
        --------
        >>> from segmask.testing import FakeRoboflowServer, sample_image_path
        >>> with FakeRoboflowServer(api_keys={"my-key"}) as server:
        ...     client = RoboflowClient(api_key="my-key", api_url=server.url, retries=0)
        ...     out = client.infer_many([sample_image_path(), b"not an image"], "shapes/1", progress=False)
        >>> [type(r).__name__ for r in out]
        ['Predictions', 'BadRequestError']
        """
        query = self._query(model, confidence, overlap, params)
        workers = _count("workers", workers, 1)
        if workers > self.max_connections:
            raise InputError(
                f"workers={workers} is above the client's max_connections={self.max_connections}; "
                "make the client with a larger max_connections"
            )
        n = len(images)
        results: list[Predictions | Exception | None] = [None] * n
        in_flight: dict[Future[Predictions], int] = {}
        with (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="segmask-fetch") as pool,
            tqdm(total=n, disable=not progress, unit="image", desc=f"segmask {model}") as bar,
        ):
            upcoming = iter(range(n))
            for i in upcoming:
                in_flight[pool.submit(self._infer, images[i], model, query)] = i
                if len(in_flight) == workers:
                    break
            while in_flight:
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    i = in_flight.pop(future)
                    error = future.exception()
                    results[i] = error if isinstance(error, Exception) else future.result()
                    bar.update(1)
                    nxt = next(upcoming, None)
                    if nxt is not None:
                        in_flight[pool.submit(self._infer, images[nxt], model, query)] = nxt
        return results  # type: ignore[return-value]

    # --- the steps ---------------------------------------------------------------

    def _query(self, model: str, confidence: float, overlap: float, params: Mapping[str, Any]) -> dict[str, str]:
        if not isinstance(model, str) or not _MODEL.match(model):
            raise InputError(f"model must be 'project/version', like 'your-model/42', got {model!r}")
        query = {"confidence": _fraction("confidence", confidence), "overlap": _fraction("overlap", overlap)}
        for name, value in params.items():
            if name not in QUERY_PARAMETERS:
                valid = ", ".join(QUERY_PARAMETERS)
                raise InputError(f"unknown query parameter {name!r}; the documented ones are: {valid}")
            if isinstance(value, bool):
                query[name] = "true" if value else "false"
            elif isinstance(value, str | int | float):
                query[name] = str(value)
            else:
                raise InputError(f"{name} must be a str, int, float or bool, got {type(value).__name__}")
        return query

    def _infer(self, image: ImageInput, model: str, query: dict[str, str]) -> Predictions:
        request = self._prepare(image, model, query)
        cache_path = self._cache_path(request)
        if cache_path is not None:
            cached = _load_cached(cache_path)
            if cached is not None:
                return cached
        data = self._post(request)
        preds = Predictions._parse(data, "")  # one response; a JSON list is refused there
        if cache_path is not None:
            _store(cache_path, data)
        return preds

    def _prepare(self, image: ImageInput, model: str, query: dict[str, str]) -> _Request:
        if isinstance(image, str) and image.startswith(("http://", "https://")):
            digest = hashlib.sha256(b"url:" + image.encode()).hexdigest()
            return _Request(model, {**query, "image": image}, None, digest)
        raw = _image_bytes(image)
        return _Request(model, query, raw, hashlib.sha256(raw).hexdigest())

    def _cache_path(self, request: _Request) -> Path | None:
        if self.cache_dir is None:
            return None
        ident = json.dumps([self.api_url, request.model, request.query, request.digest], sort_keys=True)
        key = hashlib.sha256(ident.encode()).hexdigest()
        return self.cache_dir / key[:2] / f"{key}.json"

    def _post(self, request: _Request) -> Any:
        """One call with its retries; returns the parsed JSON."""
        url = f"{self.api_url}/{request.model}"
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        where = f"POST {url} (model {request.model!r})"
        # The body is the base64 image, made here: a cache hit never pays for it.
        body = base64.b64encode(request.image) if request.image is not None else None
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            failure = None
            try:
                response = self._session.post(
                    url,
                    params={"api_key": self._key, **request.query},
                    data=body,
                    headers=headers,
                    timeout=self.timeout,
                )
            except requests.Timeout:
                failure = f"no answer within the timeout {self.timeout} s"
            except requests.RequestException as exc:
                # Kept as text only: the exception's message holds the full URL.
                failure = _redact(f"{type(exc).__name__}: {exc}", self._key)
            if failure is not None:
                if last:
                    tries = self.retries + 1
                    raise APIConnectionError(f"{where}: {failure} ({tries} tries)", model=request.model)
                self._sleep(attempt, None, where, failure)
                continue
            status = response.status_code
            if status == 200:
                return self._json(response, where)
            message = _redact(_server_message(response), self._key)
            if status in _RETRY_STATUSES and not last:
                self._sleep(attempt, response.headers.get("Retry-After"), where, f"{status} {message}")
                continue
            cls = status_error(status)
            text = f"{where} answered {status}: {message}"
            if status in (401, 403):
                text += (
                    ". Check the API key (ROBOFLOW_API_KEY) and its access to this model; "
                    "a 403 can also mean the workspace's quota is used up"
                )
            elif status in _RETRY_STATUSES:
                text += f" ({self.retries + 1} tries)"
            raise cls(text, status=status, model=request.model)
        raise ServerError(f"{where}: no tries were made", model=request.model)  # pragma: no cover

    def _json(self, response: requests.Response, where: str) -> Any:
        try:
            return response.json()
        except ValueError:
            kind = response.headers.get("Content-Type", "no content type")
            snippet = _redact(" ".join(response.text[:80].split()), self._key)
            raise ResponseFormatError(f"{where} answered 200 with {kind}, not JSON: {snippet!r}") from None

    def _sleep(self, attempt: int, retry_after: str | None, where: str, why: str) -> None:
        delay = _retry_after(retry_after)
        if delay is None:
            ceiling = min(self.max_backoff, self.backoff * 2**attempt)
            delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        log.info("%s: %s; retry %d of %d in %.2f s", where, why, attempt + 1, self.retries, delay)
        time.sleep(delay)


# --- helpers -------------------------------------------------------------------------


def _timeout(value: object) -> tuple[float, float]:
    if isinstance(value, tuple) and len(value) == 2:
        return _seconds("timeout[0] (connect)", value[0]), _seconds("timeout[1] (read)", value[1])
    t = _seconds("timeout", value)
    return t, t


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise InputError(f"{name} must be a finite number of seconds >= 0, got {value!r}")
    return float(value)


def _count(name: str, value: object, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < least:
        raise InputError(f"{name} must be an integer >= {least}, got {value!r}")
    return int(value)


def _fraction(name: str, value: object) -> str:
    """A fraction in [0, 1] on the API's 0-100 scale; above 1 is refused, never guessed."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InputError(f"{name} must be a number in [0, 1], got {value!r}")
    v = float(value)
    if v > 1:
        raise InputError(
            f"{name}={value!r} is above 1: it is a fraction like the confidences in the response, "
            f"did you mean {v / 100:g}?"
        )
    if v < 0:
        raise InputError(f"{name} must be in [0, 1], got {value!r}")
    # The server divides values >= 1 by 100 and raises anything lower to 0.01:
    # so 0.01 is the least we can ask for, and we send it as "1".
    return f"{max(v * 100, 1.0):g}"


def _image_bytes(image: object) -> bytes:
    if isinstance(image, np.ndarray):
        return _encode_array(image)
    if isinstance(image, bytes | bytearray | memoryview):
        raw = bytes(image)
        if not raw:
            raise ImageError("the image is empty (0 bytes)")
        return raw
    if isinstance(image, str | os.PathLike):
        path = Path(image)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ImageError(f"no image file at {str(path)!r}") from None
        except IsADirectoryError:
            raise ImageError(f"{str(path)!r} is a folder, not an image file") from None
        except OSError as exc:
            raise ImageError(f"cannot read the image {str(path)!r}: {exc.strerror}") from None
        if not raw:
            raise ImageError(f"the image file {str(path)!r} is empty")
        return raw
    raise ImageError(
        f"an image must be a path, bytes, a uint8 numpy array or an http(s) URL, got {type(image).__name__}"
    )


def _encode_array(image: NDArray[Any]) -> bytes:
    if image.dtype != np.uint8:
        raise ImageError(f"an image array must be uint8 (BGR as OpenCV reads it), got {image.dtype}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4))) or 0 in image.shape:
        raise ImageError(f"an image array must be (H, W), (H, W, 3) BGR or (H, W, 4) BGRA, got shape {image.shape}")
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image of these shapes
        raise ImageError(f"OpenCV could not encode the image array of shape {image.shape}")
    return bytes(buf.tobytes())


def _server_message(response: requests.Response) -> str:
    """The error message of a reply: ``Message`` (the gateway), ``message``, ``detail`` or the text."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("Message", "message", "detail", "error"):
            if data.get(key):
                return str(data[key])
    text = " ".join(response.text[:200].split())
    return text or response.reason or "no message"


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date), capped at 60."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), _MAX_RETRY_AFTER)


def _load_cached(path: Path) -> Predictions | None:
    try:
        data = json.loads(path.read_bytes())
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return Predictions._parse(data, "")
    except FileNotFoundError:
        return None
    except (ValueError, OSError) as exc:  # JSONDecodeError and ResponseFormatError are ValueErrors
        log.warning("cache entry %s is unreadable (%s); fetching it again", path.name, type(exc).__name__)
        return None


def _store(path: Path, data: Any) -> None:
    atomic_write(path, json.dumps(data).encode())
