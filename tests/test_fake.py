"""FakeRoboflowServer behaves as the hosted route in each documented respect (see segmask.testing)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np
import pytest
import requests
from pycocotools import mask as pcm

import segmask as sm
from segmask.testing import FakeRoboflowServer, sample_image_path, shapes_model

KEY = "fake-key"


@pytest.fixture
def server() -> Iterator[FakeRoboflowServer]:
    with FakeRoboflowServer(api_keys={KEY}) as s:
        yield s


def post(server: FakeRoboflowServer, model: str = "shapes/1", **kw: Any) -> requests.Response:
    params = kw.pop("params", {})
    params.setdefault("api_key", KEY)
    if params["api_key"] is None:
        del params["api_key"]
    return requests.post(f"{server.url}/{model}", params=params, timeout=10, **kw)


def donut_image() -> np.ndarray:
    """A ring (a hole in it) and a separate square, on 60x80."""
    img = np.zeros((60, 80, 3), np.uint8)
    cv2.circle(img, (25, 30), 20, (255, 255, 255), -1)
    cv2.circle(img, (25, 30), 8, (0, 0, 0), -1)
    img[10:20, 60:75] = 200
    return img


def png(img: np.ndarray) -> bytes:
    return cv2.imencode(".png", img)[1].tobytes()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def test_base64_form_json_and_multipart_bodies_give_the_same_answer(server: FakeRoboflowServer) -> None:
    raw = sample_image_path().read_bytes()
    b64 = base64.b64encode(raw)
    answers = [
        post(server, data=b64, headers=FORM),
        post(server, data=b64, headers={"Content-Type": "application/json"}),  # inference-sdk v0
        post(server, files={"file": ("sample.png", raw, "image/png")}),  # the roboflow package
    ]
    assert [a.status_code for a in answers] == [200, 200, 200]
    bodies = [a.json() for a in answers]
    for body in bodies:
        body.pop("inference_id")
    assert bodies[0] == bodies[1] == bodies[2]
    assert len(bodies[0]["predictions"]) == 5 and bodies[0]["image"] == {"width": 480, "height": 360}


def test_bodies_the_hosted_route_refuses(server: FakeRoboflowServer) -> None:
    b64 = base64.b64encode(sample_image_path().read_bytes())
    missing = post(server, data=b64)  # requests sends bytes without a Content-Type
    assert "Content-Type" not in missing.request.headers
    assert missing.status_code == 400 and "Content-Type" in missing.json()["message"]
    assert post(server, data=b"not base64!", headers=FORM).status_code == 400
    assert post(server, data=base64.b64encode(b"not an image"), headers=FORM).status_code == 400
    no_file = post(server, files={"image": ("x.png", sample_image_path().read_bytes(), "image/png")})
    assert no_file.status_code == 400 and "file" in no_file.json()["message"]


def test_key_in_query_or_bearer_header(server: FakeRoboflowServer) -> None:
    b64 = base64.b64encode(sample_image_path().read_bytes())
    assert post(server, data=b64, headers={**FORM, "Authorization": f"Bearer {KEY}"}, params={"api_key": None}).ok
    denied = post(server, data=b64, headers={**FORM, "Authorization": "Bearer other"}, params={"api_key": None})
    assert denied.status_code == 403 and "Message" in denied.json()
    assert post(server, data=b64, headers=FORM, params={"api_key": None}).status_code == 403
    client = sm.RoboflowClient(api_key=KEY, api_url=server.url, key_in="header", retries=0)
    assert len(client.infer(sample_image_path(), "shapes/1")) == 5
    last = server.requests[-1]
    assert "api_key" not in last.query and last.headers["Authorization"] == f"Bearer {KEY}"


def boxes_model(image: np.ndarray) -> list[dict[str, Any]]:
    """Fixed boxes: a and b (class cat) overlap by IoU 0.6; c (dog) sits on a; d is alone."""

    def box(x: float, y: float, w: float, h: float, conf: float, name: str) -> dict[str, Any]:
        points = [{"x": x, "y": y}, {"x": x + w, "y": y}, {"x": x + w, "y": y + h}, {"x": x, "y": y + h}]
        return {"x": x + w / 2, "y": y + h / 2, "width": w, "height": h, "confidence": conf, "class": name,
                "class_id": 0 if name == "cat" else 1, "points": points}  # fmt: skip

    return [
        box(0, 0, 20, 20, 0.70, "cat"),
        box(5, 0, 20, 20, 0.90, "cat"),  # IoU with the first: 300 / 500 = 0.6
        box(0, 0, 20, 20, 0.80, "dog"),
        box(40, 40, 10, 10, 0.35, "cat"),
    ]


def test_confidence_overlap_and_max_detections() -> None:
    with FakeRoboflowServer(api_keys={KEY}, models={"boxes/1": boxes_model}) as server:
        b64 = base64.b64encode(sample_image_path().read_bytes())

        def confidences(**params: Any) -> list[float]:
            reply = post(server, "boxes/1", data=b64, headers=FORM, params=params)
            return [p["confidence"] for p in reply.json()["predictions"]]

        # Defaults (confidence 40, overlap 30): the cat at 0.7 loses to the one at 0.9; other classes stay.
        assert confidences() == [0.9, 0.8]
        assert confidences(overlap=70) == [0.9, 0.8, 0.7]  # 0.6 IoU is under 0.7
        assert confidences(confidence=30, overlap=70) == [0.9, 0.8, 0.7, 0.35]
        assert confidences(confidence=1, overlap=70) == [0.9, 0.8, 0.7, 0.35]  # 1 means 0.01, as the server reads it
        assert confidences(confidence=30, overlap=70, max_detections=2) == [0.9, 0.8]
        assert confidences(confidence=85) == [0.9]


def test_rle_answers_keep_holes_and_parts() -> None:
    def two_parts(image: np.ndarray) -> list[dict[str, Any]]:
        mask = np.zeros(image.shape[:2], bool)
        mask[5:10, 5:10] = True
        mask[30:40, 50:70] = True
        return [{"x": 37.5, "y": 22.5, "width": 65, "height": 35, "confidence": 0.9, "class": "pair",
                 "points": [{"x": 5, "y": 5}, {"x": 9, "y": 5}, {"x": 9, "y": 9}], "mask": mask}]  # fmt: skip

    img = donut_image()
    models = {"shapes/1": shapes_model, "pair/1": two_parts}
    with FakeRoboflowServer(api_keys={KEY}, models=models) as server:
        client = sm.RoboflowClient(api_key=KEY, api_url=server.url, retries=0)
        polygons = client.infer(png(img), "shapes/1")
        rles = client.infer(png(img), "shapes/1", response_mask_format="rle")
        query = {"response_mask_format": "rle"}
        body = post(server, data=base64.b64encode(png(img)), headers=FORM, params=query).json()
        pair = client.infer(png(img), "pair/1", response_mask_format="rle")
    assert all("rle" in p and "points" not in p for p in body["predictions"])
    regions = shapes_model(img)
    want = np.stack([r["mask"] for r in regions])
    np.testing.assert_array_equal(rles.masks().to_dense(), want)  # the ring keeps its hole
    ring = int(np.argmax(want.sum(axis=(1, 2))))
    assert not rles.masks().to_dense()[ring][30, 25] and polygons.masks().to_dense()[ring][30, 25]
    for p, r in zip(body["predictions"], regions, strict=True):  # the strings are pycocotools' own
        assert p["rle"]["counts"] == pcm.encode(np.asfortranarray(r["mask"].astype(np.uint8)))["counts"].decode()
    assert pair.masks().area.tolist() == [25 + 200]  # both parts


def test_format_image_is_a_jpeg_with_the_outlines(server: FakeRoboflowServer) -> None:
    b64 = base64.b64encode(png(donut_image()))
    reply = post(server, data=b64, headers=FORM, params={"format": "image", "stroke": 2, "labels": "true"})
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "image/jpeg"
    drawn = cv2.imdecode(np.frombuffer(reply.content, np.uint8), cv2.IMREAD_COLOR)
    assert drawn.shape == (60, 80, 3)
    red = (drawn[..., 2] > 150) & (drawn[..., 0] < 100) & (drawn[..., 1] < 100)
    assert red.sum() > 50  # the outlines are drawn in red


def test_image_urls_are_looked_up_never_downloaded() -> None:
    url = "https://example.com/sample.png"
    with FakeRoboflowServer(api_keys={KEY}, url_images={url: sample_image_path().read_bytes()}) as server:
        assert len(post(server, params={"image": url}).json()["predictions"]) == 5
        missing = post(server, params={"image": "https://example.com/other.png"})
        assert missing.status_code == 400 and "Could not load" in missing.json()["message"]
