"""The HTTP client against a real server on 127.0.0.1 (segmask.testing.FakeRoboflowServer)."""

from __future__ import annotations

import base64
import json
import logging
import pickle
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

import segmask as sm
from segmask.testing import FakeRoboflowServer, sample_image_path, shapes_model

KEY = "SENTINEL-KEY-7f3a9c"  # must never show up anywhere
MODEL = "shapes/1"


@pytest.fixture
def server() -> Iterator[FakeRoboflowServer]:
    with FakeRoboflowServer(api_keys={KEY}) as s:
        yield s


def client_for(server: FakeRoboflowServer, **kw: Any) -> sm.RoboflowClient:
    kw.setdefault("retries", 2)
    kw.setdefault("backoff", 0.01)
    kw.setdefault("timeout", (2, 5))
    return sm.RoboflowClient(api_key=KEY, api_url=server.url, **kw)


def assert_no_key(*texts: str) -> None:
    for text in texts:
        assert KEY not in text


def exception_texts(exc: BaseException) -> tuple[str, str, str]:
    return str(exc), repr(exc), "".join(traceback.format_exception(exc))


def drawn_regions() -> list[np.ndarray]:
    """The bright regions of the sample image, found without contours: what the fake serves."""
    image = cv2.imread(str(sample_image_path()))
    count, labels = cv2.connectedComponents((image.max(axis=2) >= 128).astype(np.uint8), connectivity=8)
    return [labels == k for k in range(1, count)]


# --- what is sent and what comes back ------------------------------------------------


@pytest.mark.parametrize("form", ["path", "str", "bytes", "bytearray"])
def test_infer_sends_base64_and_gets_the_shapes_back(server: FakeRoboflowServer, form: str) -> None:
    raw = sample_image_path().read_bytes()
    image = {"path": sample_image_path(), "str": str(sample_image_path()), "bytes": raw, "bytearray": bytearray(raw)}
    preds = client_for(server).infer(image[form], MODEL, confidence=0.05)
    sent = server.requests[0]
    assert sent.path == "/shapes/1" and base64.b64decode(sent.body) == raw
    assert sent.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert sent.query["confidence"] == "5" and sent.query["overlap"] == "30" and "image" not in sent.query
    regions = drawn_regions()
    masks = preds.masks()
    assert preds.image_size == (360, 480) and len(preds) == len(regions) == 5
    # the contour rule gives back the server's masks, pixel for pixel
    dense = masks.to_dense()
    assert sorted(int(r.sum()) for r in regions) == sorted(masks.area.tolist())
    for region in regions:
        assert any(np.array_equal(region, d) for d in dense)


def test_numpy_arrays_are_sent_as_jpeg(server: FakeRoboflowServer) -> None:
    image = cv2.imread(str(sample_image_path()))
    preds = client_for(server).infer(image, MODEL, confidence=0.05)
    assert base64.b64decode(server.requests[0].body)[:3] == b"\xff\xd8\xff"
    assert len(preds) == 5
    gray = client_for(server).infer(image.max(axis=2), MODEL, confidence=0.05)
    assert len(gray) == 5


def test_urls_go_to_the_server_and_are_never_downloaded(server: FakeRoboflowServer) -> None:
    url = "https://images.example.invalid/sample.png"  # unreachable: a download would fail
    server.url_images[url] = sample_image_path().read_bytes()
    preds = client_for(server).infer(url, MODEL)
    sent = server.requests[0]
    assert sent.query["image"] == url and sent.body == b""
    assert len(preds) > 0 and server.count == 1


def test_confidence_filters_on_the_server(server: FakeRoboflowServer) -> None:
    client = client_for(server)
    everything = client.infer(sample_image_path(), MODEL, confidence=0.0)
    assert server.requests[-1].query["confidence"] == "1"  # 0.01, the server's floor, sent unambiguously
    strict = client.infer(sample_image_path(), MODEL, confidence=0.9)
    assert server.requests[-1].query["confidence"] == "90"
    assert 0 < len(strict) < len(everything)
    assert (strict.confidence >= 0.9).all()


def test_documented_parameters_are_passed_by_name(server: FakeRoboflowServer) -> None:
    client_for(server).infer(
        sample_image_path(), MODEL, max_detections=5, response_mask_format="rle", disable_preproc_auto_orient=True
    )
    q = server.requests[0].query
    assert (q["max_detections"], q["response_mask_format"], q["disable_preproc_auto_orient"]) == ("5", "rle", "true")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"confidence": 40}, "confidence=40 is above 1: it is a fraction like the confidences in the response, "
                             "did you mean 0.4?"),
        ({"overlap": 30}, "did you mean 0.3?"),
        ({"confidence": 1.5}, "did you mean 0.015?"),
        ({"confidence": -0.1}, "confidence must be in [0, 1]"),
        ({"confidence": float("nan")}, "confidence must be a number in [0, 1]"),
        ({"confidence": True}, "confidence must be a number"),
        ({"max_detection": 5}, "unknown query parameter 'max_detection'; the documented ones are: max_detections"),
        ({"max_detections": [5]}, "max_detections must be a str, int, float or bool"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_before_sending(server: FakeRoboflowServer, kwargs: dict, message: str) -> None:
    with pytest.raises(sm.InputError) as info:
        client_for(server).infer(sample_image_path(), MODEL, **kwargs)
    assert message in str(info.value)
    assert server.count == 0


@pytest.mark.parametrize("model", ["shapes", "shapes/", "shapes/v1", "a b/1", "/1", "shapes/1?x=1", 42])
def test_bad_model_ids(server: FakeRoboflowServer, model: Any) -> None:
    with pytest.raises(sm.InputError, match="model must be 'project/version', like 'your-model/42'"):
        client_for(server).infer(sample_image_path(), model)


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((4, 4, 3), np.float32), "must be uint8"),
        (np.zeros((4, 4, 2), np.uint8), "must be (H, W), (H, W, 3) BGR"),
        (np.zeros((0, 4), np.uint8), "got shape (0, 4)"),
        (b"", "the image is empty"),
        ("no/such/file.png", "no image file at 'no/such/file.png'"),
        (Path("."), "is a folder"),
        (12, "got int"),
    ],
)
def test_bad_images_are_refused_before_sending(server: FakeRoboflowServer, image: Any, message: str) -> None:
    with pytest.raises(sm.ImageError) as info:
        client_for(server).infer(image, MODEL)
    assert message in str(info.value)
    assert server.count == 0


def test_the_key_comes_from_the_environment(server: FakeRoboflowServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROBOFLOW_API_KEY", raising=False)
    with pytest.raises(sm.InputError, match="ROBOFLOW_API_KEY"):
        sm.RoboflowClient(api_url=server.url)
    monkeypatch.setenv("ROBOFLOW_API_KEY", KEY)
    client = sm.RoboflowClient(api_url=server.url)
    assert len(client.infer(sample_image_path(), MODEL)) > 0
    assert server.requests[0].query["api_key"] == KEY


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": -1}, "timeout must be"),
        ({"timeout": (1, "x")}, "timeout[1] (read) must be"),
        ({"retries": -1}, "retries must be an integer >= 0"),
        ({"api_url": "serverless.roboflow.com"}, "api_url must start with http"),
    ],
)
def test_bad_client_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(sm.InputError) as info:
        sm.RoboflowClient(api_key=KEY, **kwargs)
    assert message in str(info.value)


# --- errors and retries ----------------------------------------------------------------


def test_403_from_the_gateway_is_an_auth_error_with_its_message_and_no_retry(server: FakeRoboflowServer) -> None:
    client = sm.RoboflowClient(api_key="wrong-key", api_url=server.url, retries=3, backoff=0.01)
    with pytest.raises(sm.AuthError) as info:
        client.infer(sample_image_path(), MODEL)
    text = str(info.value)
    assert "answered 403: User is not authorized to access this resource" in text
    assert "quota" in text and info.value.status == 403 and info.value.model == MODEL
    assert server.count == 1
    assert "wrong-key" not in "".join(exception_texts(info.value))


@pytest.mark.parametrize(
    ("status", "body", "error", "message"),
    [
        (401, {"message": "Unauthorized"}, sm.AuthError, "answered 401: Unauthorized"),
        (404, {"message": "Model not found"}, sm.ModelNotFoundError, "answered 404: Model not found"),
        (400, {"detail": "bad image"}, sm.BadRequestError, "answered 400: bad image"),
        (413, None, sm.BadRequestError, "answered 413"),
    ],
)
def test_client_errors_are_not_retried(
    server: FakeRoboflowServer, status: int, body: Any, error: type, message: str
) -> None:
    server.push(status, body=body)
    with pytest.raises(error) as info:
        client_for(server, retries=3).infer(sample_image_path(), MODEL)
    assert message in str(info.value) and info.value.status == status
    assert server.count == 1
    assert_no_key(*exception_texts(info.value))


def test_an_unknown_model_is_a_real_404() -> None:
    with (
        FakeRoboflowServer(api_keys={KEY}, models={"shapes/1": shapes_model}) as server,
        pytest.raises(sm.ModelNotFoundError, match="'shapes/2' not found"),
    ):
        client_for(server).infer(sample_image_path(), "shapes/2")


@pytest.mark.parametrize(
    ("status", "error"), [(500, sm.ServerError), (502, sm.ServerError), (503, sm.ServerError), (429, sm.RateLimitError)]
)
def test_retryable_statuses_are_retried_then_raised(server: FakeRoboflowServer, status: int, error: type) -> None:
    server.push(status, count=3)
    with pytest.raises(error) as info:
        client_for(server, retries=2).infer(sample_image_path(), MODEL)
    assert server.count == 3 and f"answered {status}" in str(info.value) and "(3 tries)" in str(info.value)
    assert_no_key(*exception_texts(info.value))


def test_a_retry_that_succeeds_returns_the_result(server: FakeRoboflowServer) -> None:
    server.push(503)
    server.push(500)
    preds = client_for(server, retries=2).infer(sample_image_path(), MODEL)
    assert len(preds) > 0 and [r.status for r in server.requests] == [503, 500, 200]


def test_retry_after_is_honoured(server: FakeRoboflowServer) -> None:
    server.push(429, headers={"Retry-After": "1"})
    start = time.monotonic()
    preds = client_for(server, retries=1, backoff=0.0).infer(sample_image_path(), MODEL)
    gap = server.requests[1].started - server.requests[0].finished
    assert len(preds) > 0 and gap >= 0.95
    assert time.monotonic() - start < 10


def test_backoff_grows_between_retries(server: FakeRoboflowServer) -> None:
    server.push(503, count=3)
    client_for(server, retries=3, backoff=0.1).infer(sample_image_path(), MODEL)
    r = server.requests
    gaps = [r[i + 1].started - r[i].finished for i in range(3)]
    # Waits are drawn from [b/2, b] with b = 0.1, 0.2, 0.4: the lower bounds double
    # (a busy machine can only lengthen a gap, so the upper bounds are loose).
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1 and gaps[2] >= 0.2
    assert max(gaps) < 2.0


def test_a_slow_reply_times_out_and_is_retried(server: FakeRoboflowServer) -> None:
    server.push(200, delay=1.5, count=2)
    with pytest.raises(sm.APIConnectionError) as info:
        client_for(server, retries=1, timeout=(1, 0.3)).infer(sample_image_path(), MODEL)
    assert "no whole reply within 1.3 s (timeout=(1.0, 0.3)) (2 tries)" in str(info.value)
    assert info.value.status is None
    assert_no_key(*exception_texts(info.value))


def test_a_cut_off_body_is_a_connection_error_and_is_retried(server: FakeRoboflowServer) -> None:
    server.push(200, truncate=True, body={"predictions": [], "padding": "x" * 2000})
    preds = client_for(server, retries=1).infer(sample_image_path(), MODEL)
    assert len(preds) > 0 and server.count == 2
    server.push(200, truncate=True, body={"predictions": [], "padding": "x" * 2000}, count=2)
    with pytest.raises(sm.APIConnectionError) as info:
        client_for(server, retries=1).infer(sample_image_path(), MODEL)
    assert_no_key(*exception_texts(info.value))


def test_html_instead_of_json_is_the_servers_fault(server: FakeRoboflowServer) -> None:
    server.push(200, html=True)
    with pytest.raises(sm.BadResponseError, match="answered 200 with a body that is not JSON: '<html><body><h1>502"):
        client_for(server).infer(sample_image_path(), MODEL)
    assert server.count == 1


def test_json_of_the_wrong_shape_names_the_path(server: FakeRoboflowServer) -> None:
    server.push(200, body={"predictions": [{"x": "left"}]})
    with pytest.raises(sm.BadResponseError, match=r"predictions\[0\].x is 'left'") as info:
        client_for(server).infer(sample_image_path(), MODEL)
    assert isinstance(info.value, sm.APIError) and not isinstance(info.value, sm.InputError)


def test_nobody_listening_is_a_connection_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    client = sm.RoboflowClient(api_key=KEY, api_url=f"http://127.0.0.1:{port}", retries=1, backoff=0.01)
    with pytest.raises(sm.APIConnectionError, match=r"ConnectionError.*\(2 tries\)") as info:
        client.infer(sample_image_path(), MODEL)
    texts = exception_texts(info.value)
    assert_no_key(*texts)
    assert "api_key=***" in texts[0]  # requests' own text, with the URL, redacted


def test_an_error_echoing_the_key_is_redacted(server: FakeRoboflowServer) -> None:
    server.push(500, body={"message": f"crashed on /shapes/1?api_key={KEY}&confidence=40"}, count=3)
    with pytest.raises(sm.ServerError) as info:
        client_for(server).infer(sample_image_path(), MODEL)
    assert_no_key(*exception_texts(info.value))
    assert "api_key=***" in str(info.value)


# --- the key stays secret everywhere ------------------------------------------------


def test_the_key_is_not_in_logs_repr_or_progress(
    server: FakeRoboflowServer, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # urllib3 logs every URL, query and all, at DEBUG
    client = client_for(server, retries=1)
    server.push(503)
    client.infer(sample_image_path(), MODEL)
    results = client.infer_many([sample_image_path(), b"junk"], MODEL, workers=2, progress=True)
    assert isinstance(results[1], sm.BadRequestError)
    assert "urllib3.connectionpool" in {r.name for r in caplog.records}
    assert "api_key=***" in caplog.text and "retry 1 of 1" in caplog.text
    captured = capsys.readouterr()
    assert "segmask shapes/1" in captured.err  # the progress bar
    assert_no_key(caplog.text, captured.out, captured.err, repr(client), str(client), *exception_texts(results[1]))
    assert repr(client).startswith("RoboflowClient(api_url='http://127.0.0.1:") and "api_key='***'" in repr(client)
    with pytest.raises(TypeError, match="not pickled"):
        pickle.dumps(client)


# --- many images ---------------------------------------------------------------------


def _slow_for_narrow_images(image: np.ndarray) -> list[dict[str, Any]]:
    if image.shape[1] == 33:
        time.sleep(0.6)
    return shapes_model(image)


def _png(width: int) -> bytes:
    image = np.zeros((20, width, 3), np.uint8)
    image[5:15, 5:15] = 255
    return cv2.imencode(".png", image)[1].tobytes()


def test_infer_many_keeps_order_and_streams_without_waves() -> None:
    # Images of width 33 take 0.6 s on the server, one in each wave of 4 that
    # a lock-step client would send: such a client would take 3 x 0.6 s.
    widths = [33, 20, 21, 22, 23, 33, 24, 25, 26, 27, 33, 28]
    with FakeRoboflowServer(api_keys={KEY}, models={MODEL: _slow_for_narrow_images}) as server:
        results = client_for(server).infer_many([_png(w) for w in widths], MODEL, workers=4, progress=False)
        assert [r.image_size for r in results] == [(20, w) for w in widths]  # type: ignore[union-attr]
        slow = sorted((r for r in server.requests if r.finished - r.started > 0.5), key=lambda r: r.started)
        assert len(slow) == 3
        # all three slow requests were in flight together: the pool never waited for a wave
        assert slow[2].started < slow[0].finished


def test_one_failed_image_keeps_every_other_result(server: FakeRoboflowServer) -> None:
    images: list[Any] = [sample_image_path(), "missing.png", b"not an image", _png(30), np.zeros((3, 3), np.float64)]
    results = client_for(server).infer_many(images, MODEL, workers=3, progress=False)
    kinds = [type(r).__name__ for r in results]
    assert kinds == ["Predictions", "ImageError", "BadRequestError", "Predictions", "ImageError"]
    assert server.count == 3  # images refused locally were never sent
    assert client_for(server).infer_many([], MODEL, progress=False) == []


def test_infer_many_checks_its_arguments_first(server: FakeRoboflowServer) -> None:
    client = client_for(server, max_connections=4)
    with pytest.raises(sm.InputError, match="workers=8 is above the client's max_connections=4"):
        client.infer_many([sample_image_path()], MODEL, workers=8)
    with pytest.raises(sm.InputError, match="workers must be an integer >= 1"):
        client.infer_many([sample_image_path()], MODEL, workers=0)
    with pytest.raises(sm.InputError, match=r"did you mean 0\.5"):
        client.infer_many([sample_image_path()], MODEL, confidence=50)
    assert server.count == 0


# --- the cache -----------------------------------------------------------------------


def cache_files(root: Path) -> list[Path]:
    """The cache's entries (its salt and nothing else lies beside them)."""
    files = [p for p in root.rglob("*") if p.is_file()]
    assert all(p.suffix == ".json" or p.name == ".segmask-salt" for p in files)
    return sorted(p for p in files if p.suffix == ".json")


def test_cache_hit_miss_and_keys(server: FakeRoboflowServer, tmp_path: Path) -> None:
    client = client_for(server, cache_dir=tmp_path)
    first = client.infer(sample_image_path(), MODEL)
    again = client_for(server, cache_dir=tmp_path).infer(sample_image_path().read_bytes(), MODEL)  # same content
    assert server.count == 1 and again.to_dict() == first.to_dict()
    client.infer(sample_image_path(), MODEL, confidence=0.9)  # other parameters: another entry
    client.infer(sample_image_path(), "shapes/2")  # another model: another entry
    assert server.count == 3 and len(cache_files(tmp_path)) == 3
    for path in cache_files(tmp_path):
        assert_no_key(path.read_text(), path.name)
        assert json.loads(path.read_text())["predictions"]


@pytest.mark.parametrize("garbage", [b"{not json", b"", b'{"predictions": "none"}', b"[1, 2]"])
def test_a_corrupt_entry_is_fetched_again(
    server: FakeRoboflowServer, tmp_path: Path, garbage: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    client = client_for(server, cache_dir=tmp_path)
    client.infer(sample_image_path(), MODEL)
    [entry] = cache_files(tmp_path)
    entry.write_bytes(garbage)
    preds = client.infer(sample_image_path(), MODEL)
    assert server.count == 2 and len(preds) > 0
    assert json.loads(entry.read_text())["predictions"]  # rewritten whole
    if garbage:
        assert "unreadable" in caplog.text


def test_failed_calls_are_not_cached(server: FakeRoboflowServer, tmp_path: Path) -> None:
    server.push(404)
    with pytest.raises(sm.ModelNotFoundError):
        client_for(server, cache_dir=tmp_path).infer(sample_image_path(), MODEL)
    assert cache_files(tmp_path) == []


def test_concurrent_writers_leave_one_whole_entry(server: FakeRoboflowServer, tmp_path: Path) -> None:
    client = client_for(server, cache_dir=tmp_path, max_connections=16)
    images = [sample_image_path()] * 24
    results = client.infer_many(images, MODEL, workers=16, progress=False)
    assert all(isinstance(r, sm.Predictions) for r in results)
    [entry] = cache_files(tmp_path)  # no temporary files left behind
    assert json.loads(entry.read_text())["predictions"]
    # and two clients in two threads at once
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        client_for(server, cache_dir=tmp_path / "two").infer(_png(41), MODEL)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cache_files(tmp_path / "two")) == 1
