"""Test your pipeline offline: a fake of Roboflow's hosted inference API on 127.0.0.1.

:class:`FakeRoboflowServer` is a real HTTP server (the standard library's,
in a background thread) that answers ``POST /{project}/{version}`` as the
hosted route does. Each behaviour and where it comes from (the API's page:
docs.roboflow.com, "Instance segmentation" under serverless deployment; the
inference server's source; the official clients as seen on the wire):

* The key: ``api_key`` in the query, or ``Authorization: Bearer <key>``
  (inference servers from 1.5, as inference-sdk says). Any other key, or
  none, gets a 403 ``{"Message": ...}``, as the gateway writes it.
* The image: a base64 body, sent as ``application/x-www-form-urlencoded``
  (the page's examples) or ``application/json`` (inference-sdk's v0 mode);
  or a ``multipart/form-data`` body with a ``file`` part holding the image
  file itself (the ``roboflow`` package's ``predict``); or ``image=URL`` in
  the query and no body (looked up among the images you register: the fake
  never downloads). A body without a ``Content-Type`` gets a 400, as the
  hosted route answers; so does a body that is not an image.
* The answer: every 8-connected region of bright pixels (a channel at 128
  or more) is an instance (:func:`shapes_model`), whose ``points`` are its
  outer contour taken as the real server takes them (``cv2.findContours``,
  ``RETR_EXTERNAL``, ``CHAIN_APPROX_SIMPLE``, the contour with the most
  vertices).
* ``confidence`` and ``overlap`` on the API's 0-100 scale (divided by 100
  when 1 or more, at least 0.01; defaults 40 and 30): instances below the
  confidence are dropped, then class-wise greedy NMS on box IoU drops those
  overlapping a better one of their class by more than ``overlap``, as the
  inference server's NMS does; the survivors come sorted by confidence and
  cut to ``max_detections`` (default 300).
* ``response_mask_format=rle``: each prediction has ``rle: {"size": [h, w],
  "counts": "..."}`` (COCO compressed counts of the instance's whole mask,
  holes and parts kept) instead of ``points``.
* ``format=image``: the image with the instances drawn on it, as a JPEG
  (``labels`` and ``stroke`` as the page describes them).

Failures are scripted with :meth:`FakeRoboflowServer.push`: any status with
any body and headers (403, 404, 429 with ``Retry-After``, 500, 503, ...), a
slow reply, a body cut off mid-way, or HTML instead of JSON. Every request is
recorded in :attr:`FakeRoboflowServer.requests`.

Examples
--------
>>> from segmask import RoboflowClient
>>> with FakeRoboflowServer(api_keys={"test-key"}) as server:
...     client = RoboflowClient(api_key="test-key", api_url=server.url, retries=1, backoff=0.01)
...     server.push(503)  # the first request fails, the retry succeeds
...     preds = client.infer(sample_image_path(), "shapes/1")
...     [r.status for r in server.requests]
[503, 200]
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import cv2
import numpy as np
from numpy.typing import NDArray

from .masks import Masks
from .predictions import Predictions
from .raster import rasterize

__all__ = [
    "FakeRoboflowServer",
    "RecordedRequest",
    "Reply",
    "region_prediction",
    "sample_image_path",
    "sample_predictions",
    "shapes_model",
]

#: A model: the decoded BGR image in, the ``predictions`` list out.
Model = Callable[[NDArray[np.uint8]], list[dict[str, Any]]]


def sample_image_path() -> Path:
    """The path of the bundled sample image (480x360 PNG with six shapes, five regions)."""
    return Path(str(resources.files("segmask") / "data" / "sample.png"))


def sample_predictions() -> Predictions:
    """The bundled sample response (six instances on the sample image), parsed.

    Examples
    --------
    >>> preds = sample_predictions()
    >>> len(preds), preds.image_size
    (6, (360, 480))
    """
    return Predictions.from_response((resources.files("segmask") / "data" / "sample_response.json").read_bytes())


def shapes_model(image: NDArray[np.uint8]) -> list[dict[str, Any]]:
    """The fake's default model: each 8-connected bright region is one instance.

    Points are the region's outer contour as the hosted server makes them;
    ``"mask"`` is the region itself, an (H, W) bool array with its holes (the
    fake answers it as ``rle`` when asked, and never sends it otherwise);
    confidence grows with the region's area (0.5 to 0.99); the class is
    ``"shape"``. Deterministic: the same image gives the same response.

    A model of your own returns the same list of dicts (:func:`region_prediction`
    makes one); ``"mask"`` is optional (without it, ``rle`` answers encode the
    filled ``points``).
    """
    gray = image if image.ndim == 2 else image.max(axis=2)
    count, labels, stats, _ = cv2.connectedComponentsWithStats((gray >= 128).astype(np.uint8), connectivity=8)
    largest = max((int(stats[k, cv2.CC_STAT_AREA]) for k in range(1, count)), default=1)
    return [
        region_prediction(labels == k, "shape", round(0.5 + 0.49 * int(stats[k, cv2.CC_STAT_AREA]) / largest, 3))
        for k in range(1, count)
    ]


def region_prediction(
    region: NDArray[np.bool_], class_name: str, confidence: float, class_id: int = 0
) -> dict[str, Any]:
    """One prediction as the hosted server makes it from an instance's (H, W) bool mask.

    ``points``: the outer contour with the most vertices (``cv2.findContours``,
    ``RETR_EXTERNAL``, ``CHAIN_APPROX_SIMPLE``); the box of the pixels, centred;
    a ``detection_id`` derived from the box; and ``"mask"``, the region itself.
    """
    contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    contour = max(contours, key=len)[:, 0, :]
    x, y, w, h = cv2.boundingRect(contour)
    area = int(np.count_nonzero(region))
    return {
        "x": x + w / 2, "y": y + h / 2, "width": w, "height": h, "confidence": confidence,
        "class": class_name, "class_id": class_id,
        "points": [{"x": int(px), "y": int(py)} for px, py in contour],
        "detection_id": str(uuid.uuid5(uuid.NAMESPACE_OID, f"{x},{y},{w},{h},{area}")),
        "mask": region,
    }  # fmt: skip


@dataclass(frozen=True)
class Reply:
    """A scripted reply, used once for the next request (see :meth:`FakeRoboflowServer.push`)."""

    status: int = 200
    body: Any = None  # JSON-able; default: an error message fitting the status
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    truncate: bool = False  # announce the full length, send half, close
    html: bool = False  # an HTML page instead of JSON
    raw: bytes | None = None  # bytes sent as they are (with content_type), instead of JSON
    content_type: str = "application/json"


@dataclass(frozen=True)
class RecordedRequest:
    """What the fake server received, and what it answered."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes
    headers: dict[str, str]
    status: int
    started: float  # time.monotonic() when the request arrived
    finished: float  # and when its reply was sent


_DEFAULT_MESSAGES = {
    400: {"message": "Bad request"},
    403: {"Message": "User is not authorized to access this resource"},
    404: {"message": "Model not found"},
    429: {"message": "Too many requests"},
    500: {"message": "Internal server error"},
    502: {"message": "Bad gateway"},
    503: {"message": "Service unavailable"},
}


class FakeRoboflowServer:
    """A local stand-in for the hosted inference API; see the module docstring.

    Parameters
    ----------
    api_keys : iterable of str
        Keys it accepts; any other (or none) gets a 403.
    models : mapping of "project/version" to a model, optional
        Which models exist (others get a 404) and what they answer. By
        default every ``project/version`` exists and runs :func:`shapes_model`.
    latency : float
        Seconds added to every reply (for benchmarks).
    url_images : mapping of URL to image bytes
        What ``image=URL`` requests see. The server never downloads.
    """

    def __init__(
        self,
        api_keys: Iterable[str] = ("test-key",),
        models: Mapping[str, Model] | None = None,
        latency: float = 0.0,
        url_images: Mapping[str, bytes] | None = None,
    ) -> None:
        self.api_keys = frozenset(api_keys)
        self.models = dict(models) if models is not None else None
        self.latency = latency
        self.url_images = dict(url_images or {})
        self.requests: list[RecordedRequest] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: pass it as ``api_url``."""
        if self._httpd is None:
            raise RuntimeError("the server is not running: use start() or a with block")
        port = self._httpd.server_address[1]
        return f"http://127.0.0.1:{port}"

    def start(self) -> FakeRoboflowServer:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-roboflow", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> FakeRoboflowServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- scripting ---------------------------------------------------------------

    def push(self, status: int = 200, *, count: int = 1, **reply: Any) -> None:
        """Answer the next ``count`` requests with this reply instead of the model.

        ``reply`` takes the fields of :class:`Reply`: ``body``, ``headers``,
        ``delay``, ``truncate``, ``html``. ``push(429, headers={"Retry-After": "1"})``,
        ``push(200, delay=5)`` (a slow reply), ``push(200, truncate=True)``.
        """
        with self._lock:
            self._script.extend([Reply(status, **reply)] * count)

    @property
    def count(self) -> int:
        """Requests received so far."""
        return len(self.requests)

    # --- answering ---------------------------------------------------------------

    def _answer(self, handler: _Handler) -> None:
        started = time.monotonic()
        parts = urlsplit(handler.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        with self._lock:
            scripted = self._script.popleft() if self._script else None
        if self.latency:
            time.sleep(self.latency)
        reply = scripted if scripted is not None else self._run_model(parts.path, query, handler.headers, body)
        if reply.delay:
            time.sleep(reply.delay)
        # Recorded before the reply goes out: a client that has its answer sees its request here.
        record = RecordedRequest(
            handler.command, parts.path, query, body, dict(handler.headers), reply.status, started, time.monotonic()
        )
        with self._lock:
            self.requests.append(record)
        self._send(handler, reply)

    def _run_model(self, path: str, query: dict[str, str], headers: Any, body: bytes) -> Reply:
        auth = str(headers.get("Authorization") or "")
        key = query.get("api_key") or (auth[7:].strip() if auth[:7].lower() == "bearer " else None)
        if key not in self.api_keys:
            return Reply(403)
        model_id = path.strip("/")
        model = shapes_model if self.models is None else self.models.get(model_id)
        if model is None or model_id.count("/") != 1:
            return Reply(404, body={"message": f"Model {model_id!r} not found"})
        if "image" in query:
            raw = self.url_images.get(query["image"])
            if raw is None:
                return Reply(400, body={"message": "Could not load the image from " + query["image"]})
        else:
            raw_or_error = _image_bytes(str(headers.get("Content-Type") or ""), body)
            if isinstance(raw_or_error, Reply):
                return raw_or_error
            raw = raw_or_error
        decoded = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_COLOR) if raw else None
        if decoded is None:
            return Reply(400, body={"message": "Could not decode the image"})
        image = np.asarray(decoded, dtype=np.uint8)
        h, w = image.shape[:2]
        predictions = _postprocess(model(image), query)
        if query.get("format", "json") == "image":
            return Reply(200, raw=_drawn(image, predictions, query), content_type="image/jpeg")
        rle = query.get("response_mask_format", "polygon") == "rle"
        for p in predictions:
            mask = p.pop("mask", None)
            if rle:
                p["rle"] = _rle_of(mask, p.pop("points", None), (h, w))
        return Reply(200, body={
            "inference_id": str(uuid.uuid4()), "time": 0.01,
            "image": {"width": w, "height": h}, "predictions": predictions,
        })  # fmt: skip

    @staticmethod
    def _send(handler: _Handler, reply: Reply) -> None:
        if reply.html:
            data, kind = b"<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html"
        elif reply.raw is not None:
            data, kind = reply.raw, reply.content_type
        else:
            body = reply.body if reply.body is not None else _DEFAULT_MESSAGES.get(reply.status, {"message": "error"})
            data, kind = json.dumps(body).encode(), reply.content_type
        handler.send_response(reply.status)
        handler.send_header("Content-Type", kind)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            handler.send_header(name, value)
        if reply.truncate:
            handler.send_header("Connection", "close")
            handler.close_connection = True
        handler.end_headers()
        handler.wfile.write(data[: len(data) // 2] if reply.truncate else data)


def _image_bytes(content_type: str, body: bytes) -> bytes | Reply:
    """The image file in a request body, or the 400 the hosted route gives."""
    kind = content_type.split(";")[0].strip().lower()
    if not kind:
        return Reply(400, body={"message": "Missing Content-Type header"})
    if kind == "multipart/form-data":
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
        if message.is_multipart():
            for part in message.iter_parts():
                if part.get_param("name", header="content-disposition") == "file":
                    payload = part.get_payload(decode=True)
                    return payload if isinstance(payload, bytes) else b""
        return Reply(400, body={"message": "The multipart body has no file part"})
    text = body.strip()
    if kind == "application/json" and text[:1] == b'"':
        text = text.strip(b'"')  # a JSON string holding the base64
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return Reply(400, body={"message": "The body is not base64"})


def _postprocess(predictions: list[dict[str, Any]], query: dict[str, str]) -> list[dict[str, Any]]:
    """Confidence, class-wise NMS at ``overlap``, sorted by confidence, cut to ``max_detections``."""
    threshold = _server_fraction(query.get("confidence", "40"), 0.4)
    overlap = _server_fraction(query.get("overlap", "30"), 0.3)
    try:
        limit = max(int(query.get("max_detections", "300")), 0)
    except ValueError:
        limit = 300
    kept = sorted((p for p in predictions if p["confidence"] >= threshold), key=lambda p: -p["confidence"])
    out: list[dict[str, Any]] = []
    for p in kept:
        if all(q["class"] != p["class"] or _box_iou(p, q) <= overlap for q in out):
            out.append(p)
    return out[:limit]


def _box_iou(a: dict[str, Any], b: dict[str, Any]) -> float:
    ix = min(a["x"] + a["width"] / 2, b["x"] + b["width"] / 2) - max(a["x"] - a["width"] / 2, b["x"] - b["width"] / 2)
    iy = min(a["y"] + a["height"] / 2, b["y"] + b["height"] / 2) - max(
        a["y"] - a["height"] / 2, b["y"] - b["height"] / 2
    )
    inter = max(ix, 0.0) * max(iy, 0.0)
    union = a["width"] * a["height"] + b["width"] * b["height"] - inter
    return inter / union if union > 0 else 0.0


def _rle_of(mask: Any, points: Any, size: tuple[int, int]) -> dict[str, Any]:
    """The API's ``rle`` of one instance: its mask, else its points filled (the contour rule)."""
    if mask is not None:
        masks = Masks.from_dense(np.asarray(mask, dtype=bool)[None])
    else:
        polygon = np.array([[q["x"], q["y"]] for q in points or []], np.float64).reshape(-1, 2)
        masks = rasterize([polygon], size, rule="contour")
    rle = masks.to_rle()[0]
    return {"size": list(rle["size"]), "counts": rle["counts"]}


def _drawn(image: NDArray[np.uint8], predictions: list[dict[str, Any]], query: dict[str, str]) -> bytes:
    """``format=image``: outlines (``stroke`` px) and, with ``labels=true``, class names; a JPEG."""
    out = image.copy()
    try:
        stroke = min(max(int(query.get("stroke", "1")), 1), 50)
    except ValueError:
        stroke = 1
    labels = query.get("labels", "false").lower() in ("true", "1", "on")
    for p in predictions:
        pts = np.array([[q["x"], q["y"]] for q in p.get("points") or []], np.int32).reshape(-1, 1, 2)
        if len(pts):
            cv2.polylines(out, [pts], True, (0, 0, 255), stroke)
        if labels:
            corner = (int(p["x"] - p["width"] / 2), max(int(p["y"] - p["height"] / 2) - 4, 10))
            cv2.putText(out, str(p["class"]), corner, cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 255), 1)
    ok, data = cv2.imencode(".jpg", out)
    assert ok
    return bytes(data)


def _server_fraction(text: str, default: float) -> float:
    """The hosted server's reading of confidence and overlap: /100 when >= 1, at least 0.01."""
    try:
        value = float(text)
    except ValueError:
        return default
    return max(value / 100 if value >= 1 else value, 0.01)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the client's pool is used
    # Headers and body go out in two writes: without TCP_NODELAY, Nagle's
    # algorithm holds the body for the client's delayed ACK (40 ms a reply).
    disable_nagle_algorithm = True
    fake: FakeRoboflowServer

    def do_POST(self) -> None:
        self.fake._answer(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the default prints every request line, query (and key) included."""
