"""Make the bundled sample: ``sample.png`` and ``sample_response.json``.

Run ``python -m segmask.data._make_sample`` to write them again (the output is
deterministic). Each instance is drawn as a known shape into its own mask;
its polygon is made as Roboflow's server makes it: ``cv2.findContours(mask,
RETR_EXTERNAL, CHAIN_APPROX_SIMPLE)``, keeping the contour with the most
vertices; its box is the mask's bounds, written as centre x, y, width,
height. Confidences and ids are fixed by a seeded generator.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).parent
HEIGHT, WIDTH = 360, 480


def _shapes() -> list[tuple[str, int, np.ndarray]]:
    out = []

    def canvas() -> np.ndarray:
        return np.zeros((HEIGHT, WIDTH), np.uint8)

    m = canvas()
    cv2.circle(m, (120, 120), 60, 1, -1)
    out.append(("coin", 0, m))
    m = canvas()
    cv2.circle(m, (185, 150), 45, 1, -1)  # overlaps the first coin
    out.append(("coin", 0, m))
    m = canvas()
    cv2.fillPoly(m, [np.array([[300, 40], [440, 70], [420, 170], [330, 150]], np.int32)], 1)
    out.append(("card", 1, m))
    m = canvas()
    cv2.ellipse(m, (330, 270), (110, 40), 15, 0, 360, 1, -1)
    out.append(("key", 2, m))
    m = canvas()
    star = [(90 + (50 if k % 2 == 0 else 22) * np.cos(k * np.pi / 5 - np.pi / 2),
             280 + (50 if k % 2 == 0 else 22) * np.sin(k * np.pi / 5 - np.pi / 2)) for k in range(10)]  # fmt: skip
    cv2.fillPoly(m, [np.round(star).astype(np.int32)], 1)
    out.append(("badge", 3, m))
    m = canvas()
    m[200:203, 200:260] = 1  # a thin wire, three pixels high
    out.append(("wire", 4, m))
    return out


def main() -> None:
    rng = np.random.default_rng(2026)
    ramp = np.linspace(0, 30, WIDTH, dtype=np.float64)[None, :, None]
    image = (np.full((HEIGHT, WIDTH, 3), (40, 44, 52), np.float64) + ramp).astype(np.uint8)
    colours = [(60, 170, 220), (80, 200, 120), (200, 120, 80), (150, 90, 200), (90, 90, 230)]
    predictions = []
    for i, (name, class_id, mask) in enumerate(_shapes()):
        image[mask > 0] = colours[class_id]
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        contour = max(contours, key=len)[:, 0, :]
        ys, xs = np.nonzero(mask)
        x0, x1, y0, y1 = int(xs.min()), int(xs.max()) + 1, int(ys.min()), int(ys.max()) + 1
        predictions.append({
            "x": (x0 + x1) / 2, "y": (y0 + y1) / 2, "width": x1 - x0, "height": y1 - y0,
            "confidence": round(float(rng.uniform(0.55, 0.99)), 3),
            "class": name, "class_id": class_id,
            "points": [{"x": int(x), "y": int(y)} for x, y in contour],
            "detection_id": str(uuid.UUID(int=int(rng.integers(0, 2**63)) << 64 | i, version=4)),
        })  # fmt: skip
    response = {
        "inference_id": "sample-0001",
        "time": 0.042,
        "image": {"width": WIDTH, "height": HEIGHT},
        "predictions": predictions,
    }
    cv2.imwrite(str(HERE / "sample.png"), image)
    (HERE / "sample_response.json").write_text(json.dumps(response) + "\n")


if __name__ == "__main__":
    main()
