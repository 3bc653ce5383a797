"""Get instance-segmentation responses from Roboflow's hosted API, as a pipeline needs.

``POST {api_url}/{project}/{version}?api_key=...&confidence=40&overlap=30``
with the base64 image as the body (or ``image=URL`` in the query, which the
server fetches). :class:`RoboflowClient` adds what a pipeline needs around
that call:

* every attempt bounded (see :mod:`segmask._http`): at most ``connect +
  read`` seconds in all, however slowly the server sends; a body of at most
  ``max_response_bytes`` after decompression; redirects never followed;
* retries with exponential backoff and jitter, on connection errors,
  timeouts, cut-off replies, 408, 429 and every 5xx, honouring
  ``Retry-After``;
* pooled connections shared by the threads of
  :meth:`RoboflowClient.infer_many`, which keeps ``workers`` requests in
  flight and gives each image its result or its own exception;
* an on-disk cache, written atomically; a corrupt entry is fetched again;
* the API key (and a password in ``api_url``) never in a message, a log
  line, a ``repr``, a cache file, a progress bar or an exception's chain.
  ``requests`` puts the full URL, key included, in its error messages and
  urllib3 logs it at DEBUG level: segmask builds its own errors from
  redacted text and adds a redacting filter to urllib3's logger.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import json
import logging
import math
import numbers
import os
import random
import re
import secrets
import stat
import struct
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, overload
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np
from numpy.typing import NDArray
from tqdm import tqdm

from . import _validate, limits
from ._http import Reply, Transport, TransportError
from ._io import atomic_write
from ._version import __version__ as _version
from .errors import (
    APIConnectionError,
    APIError,
    BadResponseError,
    ImageError,
    InputError,
    ResponseFormatError,
    SegmaskError,
    status_error,
)
from .predictions import Predictions
from .response import parse_json, read_bytes
from .tiling import merge_tiles, tiles

__all__ = [
    "DEFAULT_API_URL",
    "MAX_IMAGE_BYTES",
    "MAX_RESPONSE_BYTES",
    "QUERY_PARAMETERS",
    "ImageInput",
    "RoboflowClient",
]

DEFAULT_API_URL = "https://serverless.roboflow.com"

#: Default cap on a reply's body after decompression (64 MiB); a real response is a few MB at most.
MAX_RESPONSE_BYTES = 64 * 2**20

#: Largest image file sent (256 MiB); the hosted API takes far less.
MAX_IMAGE_BYTES = 256 * 2**20

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


def _retryable(status: int) -> bool:
    """Statuses worth another try: 408, 429 and every 5xx."""
    return status in (408, 429) or status >= 500


_MODEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[0-9]+")
_KEY_IN_TEXT = re.compile(r"(api_key=)[^&\s'\"]+")
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")
_MAX_RETRY_AFTER = 60.0
_SALT_FILE = ".segmask-salt"

log = logging.getLogger("segmask.fetch")


class _Redactor:
    """Replaces ``api_key=...`` and every secret (key, URL password) in a text with ``***``."""

    def __init__(self, *secrets_: str | None) -> None:
        # Longest first, so that "user:pw" goes before "pw".
        self._secrets = sorted({s for s in secrets_ if s}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = _USERINFO.sub("***@", _KEY_IN_TEXT.sub(r"\1***", text))
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text


class _RedactKeys(logging.Filter):
    """Rewrites urllib3's log records, which carry the full URL, without the key."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "api_key=" in message or "@" in message:
            record.msg, record.args = _Redactor()(message), ()
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
    digest: str  # of the image content (or of the URL), for the cache


class RoboflowClient:
    """A client for the hosted inference API that is safe by default.

    Parameters
    ----------
    api_key : str, optional
        Defaults to the environment variable ``ROBOFLOW_API_KEY``. Never shown.
    api_url : str
        Default ``https://serverless.roboflow.com``. A ``user:password@`` in
        it is sent and kept secret like the key.
    timeout : float or (connect, read)
        Seconds, positive. Each attempt ends within ``connect + read``
        seconds in all, however slowly the server sends.
    retries : int
        Retries after the first try, on connection errors, timeouts, cut-off
        replies, 408, 429 and every 5xx (default 3).
    cache_dir : path, optional
        Keep responses on disk so that a re-run makes no API calls. An entry
        is keyed by the API URL, the model, every query parameter, a
        fingerprint of the API key (an HMAC with a random salt kept in the
        folder, never the key) and the image: its bytes for files, bytes and
        arrays, but the URL *text* for ``http(s)://`` images (the server
        fetches those: a changed picture at the same URL gets the old answer).
    backoff, max_backoff : float
        The n-th retry waits between ``backoff * 2**n / 2`` and
        ``backoff * 2**n`` seconds, at most ``max_backoff``; a
        ``Retry-After`` header is honoured instead (up to 60 s).
    max_connections : int
        Size of the connection pool, and the most ``workers`` of ``infer_many``.
    max_response_bytes : int
        Cap on a reply's body after decompression (default 64 MiB, far above
        any real response); a longer one is a :class:`BadResponseError`.
    key_in : {"query", "header"}
        Where the key goes: the ``api_key`` query parameter (the documented
        form, default) or an ``Authorization: Bearer`` header, which keeps
        it out of every URL (inference servers from 1.5 accept it).

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
        *,
        api_key: str | None = None,
        api_url: str = DEFAULT_API_URL,
        timeout: float | tuple[float, float] = (5, 60),
        retries: int = 3,
        cache_dir: str | os.PathLike[str] | None = None,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_connections: int = 32,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
        key_in: Literal["query", "header"] = "query",
    ) -> None:
        key = api_key if api_key is not None else os.environ.get("ROBOFLOW_API_KEY")
        if not key:
            raise InputError("no API key: pass api_key=... or set the environment variable ROBOFLOW_API_KEY")
        if not isinstance(key, str) or any(c in key for c in "\r\n"):
            raise InputError("api_key must be a string on one line")
        self._key = key
        self.api_url, password = _api_url(api_url)
        self._redact = _Redactor(key, password)
        self.timeout = _timeout(timeout)
        self.retries = _count("retries", retries, 0)
        self.backoff = _seconds("backoff", backoff, positive=False)
        self.max_backoff = _seconds("max_backoff", max_backoff, positive=False)
        self.max_connections = _count("max_connections", max_connections, 1)
        self.max_response_bytes = _count("max_response_bytes", max_response_bytes, 1)
        if key_in not in ("query", "header"):
            raise InputError(f"key_in must be 'query' or 'header', got {key_in!r}")
        self.key_in = key_in
        self._cache = _Cache(Path(cache_dir), key, self.max_response_bytes) if cache_dir is not None else None
        self._transport = Transport(self.max_connections, f"segmask/{_version}")
        _install_log_filter()

    @property
    def cache_dir(self) -> Path | None:
        return self._cache.root if self._cache is not None else None

    def __repr__(self) -> str:
        cache = str(self.cache_dir) if self.cache_dir is not None else None
        return (
            f"RoboflowClient(api_url={self._redact(self.api_url)!r}, api_key='***', timeout={self.timeout}, "
            f"retries={self.retries}, cache_dir={cache!r})"
        )

    def __reduce__(self) -> Any:
        raise TypeError("a RoboflowClient holds an API key and is not pickled; make one per process")

    def close(self) -> None:
        """Close the pooled connections."""
        self._transport.close()

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
        BadResponseError
            The answer is not a valid response, or is over ``max_response_bytes``.
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
        return self._map(lambda image: self._infer(image, model, query), images, workers, progress, model)

    @overload
    def infer_sliced(
        self,
        image: ImageInput,
        model: str,
        *,
        tile: int | tuple[int, int] = ...,
        tile_overlap: float = ...,
        threshold: float = ...,
        workers: int = ...,
        progress: bool = ...,
        errors: Literal["raise"] = ...,
        confidence: float = ...,
        overlap: float = ...,
        **params: str | int | float | bool,
    ) -> Predictions: ...

    @overload
    def infer_sliced(
        self,
        image: ImageInput,
        model: str,
        *,
        tile: int | tuple[int, int] = ...,
        tile_overlap: float = ...,
        threshold: float = ...,
        workers: int = ...,
        progress: bool = ...,
        errors: Literal["keep"],
        confidence: float = ...,
        overlap: float = ...,
        **params: str | int | float | bool,
    ) -> tuple[Predictions, dict[tuple[int, int, int, int], Exception]]: ...

    def infer_sliced(
        self,
        image: ImageInput,
        model: str,
        *,
        tile: int | tuple[int, int] = 640,
        tile_overlap: float = 0.2,
        threshold: float = 0.5,
        workers: int = 8,
        progress: bool = False,
        errors: Literal["raise", "keep"] = "raise",
        confidence: float = 0.4,
        overlap: float = 0.3,
        **params: str | int | float | bool,
    ) -> Predictions | tuple[Predictions, dict[tuple[int, int, int, int], Exception]]:
        """Run ``model`` on overlapping tiles of a large image and merge them into one answer.

        The image (a path, bytes or a uint8 array; not a URL) is decoded once
        and cut into the windows of :func:`segmask.tiles`; each tile goes as a
        PNG (lossless: the model sees the image's own pixels) through the
        machinery of :meth:`infer_many` (retries, cache, ``workers`` in
        flight); :func:`segmask.merge_tiles` joins the answers.

        Parameters
        ----------
        image : path, bytes or numpy array
        model : str
        tile, tile_overlap : int or (height, width), float in [0, 1)
            The windows, as :func:`segmask.tiles` takes them.
        threshold : float in (0, 1]
            When two tiles' predictions are one object (see :func:`segmask.merge_tiles`).
        workers, progress
            As :meth:`infer_many`.
        errors : {"raise", "keep"}
            A failed tile raises after the others finish, its message naming
            the window; ``"keep"`` returns ``(merged, {window: exception})``
            instead, merged from the tiles that answered.
        confidence, overlap, **params
            As :meth:`infer`, for every tile.

        Examples
        --------
        >>> from segmask.testing import FakeRoboflowServer, sample_image_path
        >>> with FakeRoboflowServer(api_keys={"my-key"}) as server:
        ...     client = RoboflowClient(api_key="my-key", api_url=server.url, retries=0)
        ...     whole = client.infer(sample_image_path(), "shapes/1")
        ...     sliced = client.infer_sliced(sample_image_path(), "shapes/1", tile=200)
        ...     tiles_sent = server.count - 1
        >>> tiles_sent, len(sliced), sorted(sliced.masks().area) == sorted(whole.masks().area)
        (6, 5, True)
        """
        errors = _validate.choice("errors", errors, ("raise", "keep"))  # type: ignore[assignment]
        query = self._query(model, confidence, overlap, params)
        if isinstance(image, str) and image.startswith(("http://", "https://")):
            raise InputError("infer_sliced cuts the image itself: pass a path, bytes or an array, not a URL")
        pixels = _decoded(image)
        size = (int(pixels.shape[0]), int(pixels.shape[1]))
        windows = tiles(size, tile=tile, overlap=tile_overlap)

        def call(window: list[int]) -> Predictions:
            x, y, w, h = window
            return self._infer(_encode_png(pixels[y : y + h, x : x + w]), model, query)

        results = self._map(call, windows.tolist(), workers, progress, model)
        failed = {tuple(windows[i].tolist()): r for i, r in enumerate(results) if isinstance(r, Exception)}
        if failed and errors == "raise":
            window, exc = next(iter(failed.items()))
            raise _at_window(exc, window, len(failed), len(windows))
        answers = [r for r in results if not isinstance(r, Exception)]
        ok = [not isinstance(r, Exception) for r in results]
        merged = merge_tiles(answers, windows[ok], size, threshold=threshold)
        if errors == "keep":
            return merged, failed
        return merged

    # --- the steps ---------------------------------------------------------------

    def _map(
        self, call: Any, items: Sequence[Any], workers: int, progress: bool, model: str
    ) -> list[Predictions | Exception]:
        """``call(item)`` for each item, ``workers`` in flight, each slot its result or its exception."""
        workers = _count("workers", workers, 1)
        if workers > self.max_connections:
            raise InputError(
                f"workers={workers} is above the client's max_connections={self.max_connections}; "
                "make the client with a larger max_connections"
            )
        n = len(items)
        results: list[Predictions | Exception | None] = [None] * n
        in_flight: dict[Future[Predictions], int] = {}
        with (
            ThreadPoolExecutor(max_workers=workers, thread_name_prefix="segmask-fetch") as pool,
            tqdm(total=n, disable=not progress, unit="image", desc=f"segmask {model}") as bar,
        ):
            upcoming = iter(range(n))
            for i in upcoming:
                in_flight[pool.submit(call, items[i])] = i
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
                        in_flight[pool.submit(call, items[nxt])] = nxt
        return results  # type: ignore[return-value]

    def _query(self, model: str, confidence: float, overlap: float, params: Mapping[str, Any]) -> dict[str, str]:
        if not isinstance(model, str) or not _MODEL.fullmatch(model):
            raise InputError(f"model must be 'project/version', like 'your-model/42', got {model!r}")
        query = {"confidence": _fraction("confidence", confidence), "overlap": _fraction("overlap", overlap)}
        for name, value in params.items():
            if name not in QUERY_PARAMETERS:
                valid = ", ".join(QUERY_PARAMETERS)
                raise InputError(f"unknown query parameter {name!r}; the documented ones are: {valid}")
            if isinstance(value, bool | np.bool_):
                query[name] = "true" if value else "false"
            elif isinstance(value, str) or (isinstance(value, numbers.Real) and math.isfinite(value)):
                query[name] = str(value)
            else:
                raise InputError(f"{name} must be a str, int, float or bool, got {value!r}")
        return query

    def _infer(self, image: ImageInput, model: str, query: dict[str, str]) -> Predictions:
        request = self._prepare(image, model, query)
        cache_path = self._cache.path(self.api_url, request) if self._cache is not None else None
        if cache_path is not None:
            cached = self._cache.load(cache_path)  # type: ignore[union-attr]
            if cached is not None:
                return cached
        body = self._post(request)
        preds = self._parse(body, request.model)
        if cache_path is not None:
            atomic_write(cache_path, body)
        return preds

    def _prepare(self, image: ImageInput, model: str, query: dict[str, str]) -> _Request:
        if isinstance(image, str) and image.startswith(("http://", "https://")):
            digest = hashlib.sha256(b"url:" + image.encode()).hexdigest()
            return _Request(model, {**query, "image": image}, None, digest)
        raw = _image_bytes(image)
        return _Request(model, query, raw, hashlib.sha256(raw).hexdigest())

    def _post(self, request: _Request) -> bytes | bytearray:
        """One call with its retries; returns the body of the 200 reply."""
        url = f"{self.api_url}/{request.model}"
        where = f"POST {self._redact(url)} (model {request.model!r})"
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        params = dict(request.query)
        if self.key_in == "header":
            headers["Authorization"] = f"Bearer {self._key}"
        else:
            params["api_key"] = self._key
        # The body is the base64 image, made here: a cache hit never pays for it.
        body = base64.b64encode(request.image) if request.image is not None else None
        tries = self.retries + 1
        for attempt in range(tries):
            failure, kind = "", ""
            reply: Reply | None = None
            try:
                reply = self._transport.post(
                    url, params=params, data=body, headers=headers, timeout=self.timeout,
                    max_bytes=self.max_response_bytes,
                )  # fmt: skip
            except TransportError as exc:
                if exc.kind == "too_large":
                    failure = f"{exc}, over max_response_bytes={self.max_response_bytes}"
                elif exc.kind == "timeout":
                    failure = f"no whole reply within {sum(self.timeout):g} s (timeout={self.timeout})"
                else:
                    failure = self._redact(str(exc))
                kind = exc.kind
            if reply is None:
                if kind == "too_large":
                    raise BadResponseError(f"{where}: {failure}", status=200, model=request.model)
                if attempt + 1 == tries:
                    raise APIConnectionError(f"{where}: {failure} ({tries} tries)", model=request.model)
                self._sleep(attempt, None, where, failure)
                continue
            if reply.status == 200:
                return reply.body
            message = self._redact(_server_message(reply))
            if _retryable(reply.status) and attempt + 1 < tries:
                self._sleep(attempt, reply.headers.get("Retry-After"), where, f"{reply.status} {message}")
                continue
            raise self._status_error(reply, where, message, request.model, tries)
        raise AssertionError("unreachable: the last try returns or raises")  # pragma: no cover

    def _status_error(self, reply: Reply, where: str, message: str, model: str, tries: int) -> APIError:
        status = reply.status
        if 300 <= status < 400:
            location = self._redact(reply.headers.get("Location", "nowhere"))
            text = f"{where} answered {status}, a redirect to {location!r}, which segmask does not follow"
            return APIError(text, status=status, model=model)
        text = f"{where} answered {status}: {message}"
        if status in (401, 403):
            text += (
                ". Check the API key (ROBOFLOW_API_KEY) and its access to this model; "
                "a 403 can also mean the workspace's quota is used up"
            )
        elif _retryable(status):
            text += f" ({tries} tries)"
        return status_error(status)(text, status=status, model=model)

    def _parse(self, body: bytes | bytearray, model: str) -> Predictions:
        """The 200 body as Predictions; a body that is not one response is the server's fault."""
        problem = None
        try:
            return Predictions(parse_json(body))  # one response; a JSON list is refused there
        except ResponseFormatError as exc:
            problem = self._redact(str(exc)) if not str(exc).startswith("not valid JSON") else "not JSON"
        snippet = self._redact(" ".join(body[:80].decode("utf-8", "replace").split()))
        text = f"the API answered 200 with a body that is {problem}: {snippet!r}"
        raise BadResponseError(text, status=200, model=model)

    def _sleep(self, attempt: int, retry_after: str | None, where: str, why: str) -> None:
        delay = _retry_after(retry_after)
        if delay is None:
            ceiling = min(self.max_backoff, self.backoff * 2**attempt)
            delay = ceiling / 2 + random.uniform(0, ceiling / 2)
        log.info("%s: %s; retry %d of %d in %.2f s", where, why, attempt + 1, self.retries, delay)
        time.sleep(delay)


# --- the cache -------------------------------------------------------------------------


class _Cache:
    """Responses on disk, one JSON file per call, under a key that holds no secret."""

    def __init__(self, root: Path, key: str, max_bytes: int) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)
            salt = _salt(root / _SALT_FILE)
        except OSError as exc:
            raise InputError(f"cache_dir {str(root)!r} is not a usable folder: {exc.strerror or exc}") from None
        # Which workspace the answers belong to, without the key: two keys never share entries.
        self._fingerprint = hmac.new(salt, key.encode(), hashlib.sha256).hexdigest()
        self._max_bytes = max_bytes

    def path(self, api_url: str, request: _Request) -> Path:
        ident = json.dumps([api_url, self._fingerprint, request.model, request.query, request.digest], sort_keys=True)
        name = hashlib.sha256(ident.encode()).hexdigest()
        return self.root / name[:2] / f"{name}.json"

    def load(self, path: Path) -> Predictions | None:
        problem = None
        try:
            if not path.is_file():
                return None
            return Predictions(parse_json(read_bytes(path, self._max_bytes, "max_response_bytes")))
        except FileNotFoundError:
            return None
        except (ValueError, OSError) as exc:  # ResponseFormatError is a ValueError
            problem = type(exc).__name__
        log.warning("cache entry %s is unreadable (%s); fetching it again", path.name, problem)
        return None


def _salt(path: Path) -> bytes:
    """The folder's random salt, made once; two processes making it at once agree on one."""
    salt = _read_salt(path)
    if salt is not None:
        return salt
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_bytes(secrets.token_bytes(32))
    try:
        os.link(tmp, path)  # only if there is none yet
    except FileExistsError:
        if _read_salt(path) is None:  # left damaged by hand: replace it
            os.replace(tmp, path)
    except OSError:  # a file system without hard links: the last writer wins
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    salt = _read_salt(path)
    if salt is None:
        raise OSError(f"the salt file {path.name} cannot be kept")
    return salt


def _read_salt(path: Path) -> bytes | None:
    """The 32 bytes of a salt file (33 read at most); None when missing or not 32 bytes."""
    try:
        with path.open("rb") as f:
            salt = f.read(33)
    except FileNotFoundError:
        return None
    return salt if len(salt) == 32 else None


# --- helpers -------------------------------------------------------------------------


def _api_url(value: object) -> tuple[str, str | None]:
    """The checked URL (no trailing slash) and the password it carries, if any."""
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        raise InputError(f"api_url must start with http:// or https://, got {_Redactor()(repr(value))}")
    parts = urlsplit(value)
    password = parts.password
    shown = _Redactor(password)(value)
    if not parts.hostname or parts.query or parts.fragment or any(c.isspace() for c in value):
        raise InputError(f"api_url must be http(s)://host[:port][/path], got {shown!r}")
    try:
        parts.port  # noqa: B018 - checks the port
    except ValueError:
        raise InputError(f"api_url has a bad port: {shown!r}") from None
    return urlunsplit(parts).rstrip("/"), password


def _timeout(value: object) -> tuple[float, float]:
    if isinstance(value, tuple) and len(value) == 2:
        return _seconds("timeout[0] (connect)", value[0]), _seconds("timeout[1] (read)", value[1])
    t = _seconds("timeout", value)
    return t, t


def _seconds(name: str, value: object, positive: bool = True) -> float:
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):  # type: ignore[operator]
        least = "> 0" if positive else ">= 0"
        raise InputError(f"{name} must be a finite number of seconds {least}, got {value!r}")
    return float(value)  # type: ignore[arg-type]


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


def _decoded(image: object) -> NDArray[np.uint8]:
    """An image decoded once, as BGR or gray uint8 (a path or bytes through OpenCV, an array checked)."""
    if isinstance(image, np.ndarray):
        _encode_check(image)
        return image
    raw = _image_bytes(image)
    claimed = _claimed_size(raw)
    if claimed is not None:  # refused before the pixels are allocated
        h, w = claimed
        try:
            _validate.image_size((h, w), "the image's (height, width)")
        except InputError as exc:
            raise ImageError(str(exc)) from None
        if 4 * h * w > limits.MAX_DENSE_BYTES:
            raise ImageError(
                f"the image is {w}x{h}: decoded it would take {4 * h * w} bytes, over "
                f"segmask.limits.MAX_DENSE_BYTES = {limits.MAX_DENSE_BYTES}"
            )
    pixels = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None:
        raise ImageError("OpenCV cannot decode the image (not an image file, or over its pixel limit)")
    return np.asarray(pixels if pixels.dtype == np.uint8 else cv2.convertScaleAbs(pixels, alpha=255 / 65535))


def _claimed_size(raw: bytes) -> tuple[int, int] | None:
    """``(height, width)`` a PNG or JPEG file's header claims, read before decoding; None for other formats.

    Other formats are bounded by OpenCV's own limit (``OPENCV_IO_MAX_IMAGE_PIXELS``, 2**30 pixels).
    """
    if raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[12:16] == b"IHDR" and len(raw) >= 24:
        w, h = struct.unpack(">II", raw[16:24])
        return h, w
    if raw[:2] == b"\xff\xd8":  # JPEG: walk the segments to the frame header (SOF0..SOF15 but 4, 8, 12)
        p = 2
        while p + 9 <= len(raw) and raw[p] == 0xFF:
            marker = raw[p + 1]
            if marker == 0xFF:  # fill byte
                p += 1
                continue
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
                h, w = struct.unpack(">HH", raw[p + 5 : p + 9])
                return h, w
            if marker == 0xD8 or 0xD0 <= marker <= 0xD7:
                p += 2
                continue
            p += 2 + struct.unpack(">H", raw[p + 2 : p + 4])[0]
    return None


def _encode_png(pixels: NDArray[np.uint8]) -> bytes:
    ok, buf = cv2.imencode(".png", np.ascontiguousarray(pixels), [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image of these shapes
        raise ImageError(f"OpenCV could not encode a tile of shape {pixels.shape}")
    return bytes(buf.tobytes())


def _at_window(exc: Exception, window: tuple[int, ...], failed: int, total: int) -> Exception:
    """The exception of a failed tile, its message naming the window (same class, same fields)."""
    where = f"tile (x, y, w, h) = {window} ({failed} of {total} tiles failed): {exc}"
    if isinstance(exc, APIError):
        return type(exc)(where, status=exc.status, model=exc.model)
    if isinstance(exc, SegmaskError):
        return type(exc)(where)
    return exc


def _image_bytes(image: object) -> bytes:
    if isinstance(image, np.ndarray):
        return _encode_array(image)
    if isinstance(image, bytes | bytearray | memoryview):
        raw = bytes(image)
        if not raw:
            raise ImageError("the image is empty (0 bytes)")
        if len(raw) > MAX_IMAGE_BYTES:
            raise ImageError(f"the image is {len(raw)} bytes, over the {MAX_IMAGE_BYTES}-byte limit")
        return raw
    if isinstance(image, str | os.PathLike):
        return _read_image_file(Path(image))
    raise ImageError(
        f"an image must be a path, bytes, a uint8 numpy array or an http(s) URL, got {type(image).__name__}"
    )


def _read_image_file(path: Path) -> bytes:
    problem = None
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            problem = "is a folder, not an image file"
        elif info.st_size > MAX_IMAGE_BYTES:
            problem = f"is {info.st_size} bytes, over the {MAX_IMAGE_BYTES}-byte limit"
        else:
            with path.open("rb") as f:
                raw = f.read(MAX_IMAGE_BYTES + 1)  # a file that grows meanwhile stays bounded
            if not raw:
                problem = "is empty"
            elif len(raw) > MAX_IMAGE_BYTES:
                problem = f"is over the {MAX_IMAGE_BYTES}-byte limit"
            else:
                return raw
    except FileNotFoundError:
        raise ImageError(f"no image file at {str(path)!r}") from None
    except OSError as exc:
        raise ImageError(f"cannot read the image {str(path)!r}: {exc.strerror or exc}") from None
    raise ImageError(f"{str(path)!r} {problem}")


def _encode_array(image: NDArray[Any]) -> bytes:
    _encode_check(image)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 image of these shapes
        raise ImageError(f"OpenCV could not encode the image array of shape {image.shape}")
    return bytes(buf.tobytes())


def _encode_check(image: NDArray[Any]) -> None:
    if image.dtype != np.uint8:
        raise ImageError(f"an image array must be uint8 (BGR as OpenCV reads it), got {image.dtype}")
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4))) or 0 in image.shape:
        raise ImageError(f"an image array must be (H, W), (H, W, 3) BGR or (H, W, 4) BGRA, got shape {image.shape}")
    if max(image.shape[:2]) > 65500:  # the most a JPEG holds
        raise ImageError(f"an image array of shape {image.shape} is too large for a JPEG (65500 px a side)")


def _server_message(reply: Reply) -> str:
    """The error message of a reply: ``Message`` (the gateway), ``message``, ``detail`` or the text."""
    try:
        data = json.loads(reply.body)
    except (ValueError, RecursionError):
        data = None
    if isinstance(data, dict):
        for key in ("Message", "message", "detail", "error"):
            if data.get(key):
                return " ".join(str(data[key])[:300].split())
    text = " ".join(reply.body[:200].decode("utf-8", "replace").split())
    return text or reply.reason or "no message"


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
