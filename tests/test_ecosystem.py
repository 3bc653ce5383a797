"""The shapes real responses come in, the official clients against the fake, and supervision both ways."""

from __future__ import annotations

import base64
import email.parser
import email.policy
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import segmask as sm
from segmask.cli import main
from segmask.testing import FakeRoboflowServer, sample_image_path, sample_predictions

from .strategies import dense_masks

KEY = "eco-key"


def response(image: Any = None, **top: Any) -> dict[str, Any]:
    pred = {"x": 5, "y": 5, "width": 4, "height": 4, "class": "a", "confidence": 0.9,
            "points": [{"x": 3, "y": 3}, {"x": 7, "y": 3}, {"x": 7, "y": 7}, {"x": 3, "y": 7}]}  # fmt: skip
    out: dict[str, Any] = {"predictions": [pred], **top}
    if image is not None:
        out["image"] = image
    return out


# --- sizes as the roboflow package writes them; Workflows outputs ------------------------------


def test_image_sizes_as_strings_or_undefined() -> None:
    preds = sm.Predictions.from_response(response({"width": "480", "height": "360"}))
    assert preds.image_size == (360, 480)
    undefined = sm.Predictions.from_response(response({"width": "Undefined", "height": "Undefined"}))
    assert undefined.image_size is None and undefined.meta["image"] == {"width": "Undefined", "height": "Undefined"}
    with pytest.raises(sm.InputError, match="pass image_size"):
        undefined.masks()
    assert undefined.masks(image_size=(10, 10)).area.tolist() == [25]
    assert sm.Predictions.from_response(response()).image_size is None
    for bad in ("4.5", "-3", "abc", True):
        with pytest.raises(sm.ResponseFormatError, match=r"image\.height"):
            sm.Predictions.from_response(response({"width": 10, "height": bad}))


def test_workflows_outputs() -> None:
    one = {"model_predictions": response({"width": 10, "height": 10}), "count": 1, "visual": None}
    assert len(sm.Predictions.from_response(one)) == 1
    assert len(sm.Predictions.from_response([one][0])) == 1
    with pytest.raises(sm.ResponseFormatError, match="not one response"):
        sm.Predictions.from_response([one])
    two = {"a": response({"width": 10, "height": 10}), "b": {"predictions": [], "image": {"width": 3, "height": 3}}}
    with pytest.raises(sm.ResponseFormatError, match=r"holds 2 responses \(a, b\): pass key="):
        sm.Predictions.from_response(two)
    assert sm.Predictions.from_response(two, key="b").image_size == (3, 3)
    with pytest.raises(sm.ResponseFormatError, match="c is missing; the outputs are: a, b"):
        sm.Predictions.from_response(two, key="c")
    with pytest.raises(sm.ResponseFormatError, match=r"b\.predictions\[0\]\.confidence"):
        sm.Predictions.from_response({"b": {"predictions": [{**response()["predictions"][0], "confidence": 3}]}})


# --- the official clients against the fake -------------------------------------------------------


def file_part(request: Any) -> bytes:
    """The image file of a recorded multipart request (what the roboflow package sent)."""
    head = b"Content-Type: " + request.headers["Content-Type"].encode() + b"\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.body)
    [part] = [p for p in message.iter_parts() if p.get_param("name", header="content-disposition") == "file"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload


def test_the_roboflow_package_predict_gives_segmask_s_masks(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("roboflow", reason="the roboflow package is in the test extra")
    from roboflow.models.instance_segmentation import InstanceSegmentationModel

    monkeypatch.setenv("ROBOFLOW_API_KEY", KEY)
    with FakeRoboflowServer(api_keys={KEY}) as server:
        model = InstanceSegmentationModel(KEY, "workspace/shapes/1", local=server.url)
        group = model.predict(str(sample_image_path()), confidence=40)
        sent = server.requests[-1]
        assert sent.headers["Content-Type"].startswith("multipart/form-data") and sent.query["api_key"] == KEY
        theirs = sm.Predictions.from_response(group.json())
        # The package re-encodes the image as JPEG: segmask's client sends the same bytes.
        client = sm.RoboflowClient(api_key=KEY, api_url=server.url, retries=0)
        ours = client.infer(file_part(sent), "shapes/1")
    assert theirs.image_size == ours.image_size == (360, 480)  # the package writes them as strings
    assert len(theirs) == len(ours) == 5
    np.testing.assert_array_equal(theirs.masks().to_dense(), ours.masks().to_dense())
    np.testing.assert_array_equal(theirs.confidence, ours.confidence)


def test_inference_sdk_v0_infer_gives_segmask_s_masks() -> None:
    pytest.importorskip("inference_sdk", reason="in the clients extra: it needs opencv-python and numpy < 2.4")
    from inference_sdk import InferenceConfiguration, InferenceHTTPClient

    with FakeRoboflowServer(api_keys={KEY}) as server:
        client = InferenceHTTPClient(api_url=server.url, api_key=KEY).select_api_v0()
        # The key as a Bearer header, as inference-sdk recommends: out of every URL.
        client.configure(InferenceConfiguration(api_key_transport="header"))
        result = client.infer(str(sample_image_path()), model_id="shapes/1")
        sent = server.requests[-1]
        assert sent.headers["Content-Type"] == "application/json"
        assert sent.headers["Authorization"] == f"Bearer {KEY}" and "api_key" not in sent.query
        ours = sm.RoboflowClient(api_key=KEY, api_url=server.url, retries=0).infer(
            base64.b64decode(sent.body), "shapes/1"
        )
    theirs = sm.Predictions.from_response(result)
    assert len(theirs) == len(ours) == 5
    np.testing.assert_array_equal(theirs.masks().to_dense(), ours.masks().to_dense())


# --- supervision ---------------------------------------------------------------------------------


@pytest.mark.parametrize("compact", [True, False])
def test_to_supervision_and_back(compact: bool) -> None:
    sv = pytest.importorskip("supervision", reason="supervision is in the test extra")
    preds = sample_predictions()
    detections = preds.to_supervision(compact=compact)
    assert isinstance(detections, sv.Detections) and len(detections) == len(preds)
    assert type(detections.mask).__name__ == ("CompactMask" if compact else "ndarray")
    np.testing.assert_array_equal(np.asarray(detections.mask), preds.masks().to_dense())
    np.testing.assert_array_equal(detections.xyxy, preds.xyxy)
    assert detections.data["class_name"].tolist() == preds.class_name.tolist()
    back = sm.Predictions.from_supervision(detections)
    np.testing.assert_array_equal(back.masks().to_dense(), preds.masks().to_dense())
    np.testing.assert_array_equal(back.masks(rule="coco").to_dense(), preds.masks().to_dense())  # RLE: any rule
    np.testing.assert_array_equal(back.confidence, preds.confidence)
    np.testing.assert_array_equal(back.class_id, preds.class_id)
    assert back.class_name.tolist() == preds.class_name.tolist()
    assert back.detection_id.tolist() == preds.detection_id.tolist()
    np.testing.assert_allclose(back.xyxy, preds.xyxy)
    # supervision's own reader of the API's JSON agrees with segmask's masks.
    theirs = sv.Detections.from_inference(preds.to_dict())
    np.testing.assert_array_equal(np.asarray(theirs.mask), preds.masks().to_dense())


@settings(max_examples=40, deadline=None)
@given(dense_masks(max_n=4), st.booleans())
def test_supervision_round_trip_keeps_holes_and_parts(dense: np.ndarray, compact: bool) -> None:
    pytest.importorskip("supervision", reason="supervision is in the test extra")
    masks = sm.Masks.from_dense(dense)
    n = len(masks)
    preds = sm.Predictions.from_masks(masks, confidence=np.linspace(0.1, 0.9, n), class_name=["x"] * n)
    back = sm.Predictions.from_supervision(preds.to_supervision(compact=compact))
    np.testing.assert_array_equal(back.masks().to_dense(), dense)
    again = sm.Predictions.from_response(back.to_dict())  # and through the API's JSON
    np.testing.assert_array_equal(again.masks().to_dense(), dense)


def test_from_supervision_without_masks_or_confidence() -> None:
    sv = pytest.importorskip("supervision", reason="supervision is in the test extra")
    detections = sv.Detections(xyxy=np.array([[1.0, 2.0, 5.0, 6.0]]), class_id=np.array([3]))
    with pytest.raises(sm.InputError, match="pass image_size"):
        sm.Predictions.from_supervision(detections)
    preds = sm.Predictions.from_supervision(detections, image_size=(10, 10))
    assert preds.confidence.tolist() == [1.0] and preds.class_name.tolist() == ["3"]
    assert preds.masks().area.tolist() == [0] and preds.xyxy.tolist() == [[1.0, 2.0, 5.0, 6.0]]
    with pytest.raises(sm.InputError, match=r"supervision\.Detections"):
        sm.Predictions.from_supervision({"xyxy": []})


def test_from_masks_checks_its_columns() -> None:
    masks = sm.Masks.from_dense(np.ones((2, 3, 3), bool))
    with pytest.raises(sm.InputError, match=r"confidence\[1\] is 2.0"):
        sm.Predictions.from_masks(masks, confidence=[0.5, 2], class_name=["a", "b"])
    with pytest.raises(sm.InputError, match="class_name must be 2 strings"):
        sm.Predictions.from_masks(masks, confidence=[0.5, 0.5], class_name=["a"])
    with pytest.raises(sm.InputError, match="boxes must be 2 boxes"):
        sm.Predictions.from_masks(masks, confidence=[0.5, 0.5], class_name=["a", "b"], boxes=[[0, 0, 1, 1]])
    with pytest.raises(sm.InputError, match="masks must be Masks"):
        sm.Predictions.from_masks(np.ones((2, 3, 3), bool), confidence=[0.5, 0.5], class_name=["a", "b"])  # type: ignore[arg-type]


# --- the smaller items ---------------------------------------------------------------------------


def test_cli_missing_key_names_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv("ROBOFLOW_API_KEY", raising=False)
    assert main(["fetch", str(sample_image_path()), "--model", "shapes/1", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "ROBOFLOW_API_KEY" in err and "api_key=" not in err


def test_overlay_palette_is_distinct_and_labels_have_a_background() -> None:
    from segmask.draw import _PALETTE

    hues = cv2.cvtColor(_PALETTE[None, :5], cv2.COLOR_BGR2HSV)[0, :, 0].astype(int) * 2  # degrees
    gaps = np.abs(hues[:, None] - hues[None, :])
    gaps = np.minimum(gaps, 360 - gaps)
    assert gaps[np.triu_indices(5, 1)].min() >= 25, hues  # the first five classes look apart
    image = np.zeros((60, 80, 3), np.uint8)
    preds = sm.Predictions.from_response({
        "image": {"width": 80, "height": 60},
        "predictions": [{"x": 40, "y": 40, "width": 20, "height": 20, "class": "cat", "confidence": 0.9,
                         "class_id": 1, "points": [{"x": 30, "y": 30}, {"x": 50, "y": 30}, {"x": 50, "y": 50}]}],
    })  # fmt: skip
    out = sm.draw(image, preds, alpha=0.5)
    above = out[16:28, 30:60]  # where the label sits, above the box
    colour = _PALETTE[1]
    assert (np.abs(above.astype(int) - colour).sum(axis=2) == 0).mean() > 0.3  # a filled background
    assert (above.sum(axis=2) > colour.astype(int).sum() + 60).any() or (above.sum(axis=2) < 60).any()  # text on it
