"""Data the dataset tests share: the bundled sample, generated shapes, and predictions near the truth."""

from __future__ import annotations

import contextlib
import io
import json
from importlib import resources
from pathlib import Path

import cv2
import numpy as np
from pycocotools.coco import COCO

import segmask as sm


def sample() -> sm.Predictions:
    return sm.Predictions.from_response((resources.files("segmask") / "data" / "sample_response.json").read_bytes())


def load_coco(path: Path | str) -> COCO:
    """pycocotools' own loader on a written file."""
    with contextlib.redirect_stdout(io.StringIO()):
        return COCO(str(path))


def load_dict(data: dict) -> COCO:
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = json.loads(json.dumps(data))  # through JSON, as from a file
        coco.createIndex()
    return coco


def shapes_response(masks: np.ndarray) -> dict:
    """A response whose polygons are each mask's outer contour, as the server makes them.

    Lines and single pixels give 1- or 2-point contours: their points are
    repeated into a (degenerate) triangle, which the contour rule fills.
    """
    predictions = []
    for i, m in enumerate(masks):
        contours, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        c = max(contours, key=len)[:, 0, :]
        c = np.resize(c, (max(len(c), 3), 2))
        predictions.append({"x": 1, "y": 1, "width": 1, "height": 1, "class": f"c{i % 3}", "confidence": 0.3 + i / 200,
                            "points": [{"x": int(x), "y": int(y)} for x, y in c]})  # fmt: skip
    h, w = masks.shape[1:]
    return {"image": {"width": w, "height": h}, "predictions": predictions}


def generated_shapes() -> np.ndarray:
    """Thin, concave, touching the border, one pixel wide, one pixel: the hard cases, and blobs."""
    h, w = 40, 60
    drawn = [np.zeros((h, w), np.uint8) for _ in range(8)]
    drawn[0][10, 5:50] = 1  # one pixel high
    drawn[1][3:35, 20] = 1  # one pixel wide
    cv2.line(drawn[2], (2, 2), (30, 35), 1, 1)  # a thin diagonal
    drawn[3][7, 7] = 1  # one pixel
    drawn[4][0:12, 0:9] = 1  # in the corner
    drawn[5][30:40, 40:60] = 1  # the other corner
    u_shape = [[5, 5], [40, 5], [40, 30], [30, 30], [30, 12], [15, 12], [15, 30], [5, 30]]
    cv2.fillPoly(drawn[6], [np.array(u_shape)], 1)  # concave
    cv2.fillPoly(drawn[7], [np.array([[10, 20], [50, 2], [25, 22], [55, 38]])], 1)  # sharp corners
    rng = np.random.default_rng(5)
    for _ in range(60):
        noise = cv2.GaussianBlur(rng.random((h, w)).astype(np.float32), (0, 0), rng.uniform(0.8, 4))
        blob = (noise > np.quantile(noise, rng.uniform(0.5, 0.9))).astype(np.uint8)
        _, labels = cv2.connectedComponents(blob, connectivity=8)
        big = 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
        contours, _ = cv2.findContours((labels == big).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        filled = np.zeros((h, w), np.uint8)
        cv2.drawContours(filled, contours, -1, 1, -1)  # outer contour only: no holes
        drawn.append(filled)
    return np.stack(drawn).astype(bool)


def response_of(predictions: list[dict]) -> sm.Predictions:
    return sm.Predictions.from_response({"image": {"width": 480, "height": 360}, "predictions": predictions})


def perturbed(preds: sm.Predictions, seed: int) -> list[dict]:
    """Predictions near the ground truth: eroded, dilated or moved masks, some dropped, one spurious."""
    rng = np.random.default_rng(seed)
    out = []
    for i, mask in enumerate(preds.masks().to_dense()):
        if rng.random() < 0.2:
            continue
        m = mask.astype(np.uint8)
        op = rng.integers(0, 3)
        m = (
            cv2.erode(m, np.ones((3, 3), np.uint8))
            if op == 0
            else cv2.dilate(m, np.ones((5, 5), np.uint8))
            if op == 1
            else np.roll(m, 4, axis=1)
        )
        out.append({"x": 1, "y": 1, "width": 1, "height": 1, "class": str(preds.class_name[i]),
                    "confidence": float(rng.uniform(0.3, 1)), "rle": sm.encode(m)[0]})  # fmt: skip
    out.append({"x": 1, "y": 1, "width": 1, "height": 1, "class": "coin", "confidence": 0.99,
                "rle": sm.encode(np.pad(np.ones((20, 20), bool), ((300, 40), (400, 60))))[0]})  # fmt: skip
    return out
