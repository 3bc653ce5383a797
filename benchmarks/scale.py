"""Time and peak memory at scale: 1,000 and 10,000 instances, and one polygon over a whole large image.

    python benchmarks/scale.py            # every case, each in a fresh process for its memory
    python benchmarks/scale.py --quick    # the 1,000-instance cases and 10000x10000 only

Instances: star polygons (20-300 vertices, radius 20-150 px) on a canvas that
grows with their number (1080p for 1,000, 3415x6072 for 10,000) so that each
meets about as many others. ``masks()``: a parsed response's polygons to
masks; ``iou``: the N x N matrix; ``nms``: mask NMS at 0.5; ``box_iou`` and
``box_nms`` on their boxes. Full image: one polygon covering the whole
image, rasterized under both rules. No peer here: the figures are segmask's
own bounds (issue 8's targets: nms of 10,000 in under 10 s; memory near the
answer's size, never N x N dense masks).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import segmask as sm

sys.path.insert(0, str(Path(__file__).parent))
from harness import command_line, peak_mb
from run import star_polygons

SCRIPT = Path(__file__)


def canvas(n: int) -> tuple[int, int]:
    scale = max(1.0, (n / 1000) ** 0.5)
    return int(1080 * scale), int(1920 * scale)


def predictions(n: int) -> sm.Predictions:
    h, w = canvas(n)
    rng = np.random.default_rng(n)
    polys = star_polygons(n, rng, h, w)
    preds = [{"x": 0, "y": 0, "width": 1, "height": 1, "class": "c", "confidence": float(s),
              "points": [{"x": float(x), "y": float(y)} for x, y in np.round(p)]}
             for p, s in zip(polys, rng.random(n), strict=True)]  # fmt: skip
    return sm.Predictions.from_response({"image": {"width": w, "height": h}, "predictions": preds})


def instances(n: int, what: str) -> Callable[[], Any]:
    preds = predictions(n)
    if what == "masks":
        return lambda: preds.masks()
    masks = preds.masks()
    boxes = masks.boxes
    scores = preds.confidence
    return {
        "iou": lambda: sm.iou(masks, masks),
        "nms": lambda: sm.nms(masks, scores, iou_threshold=0.5),
        "box_iou": lambda: sm.box_iou(boxes, boxes),
        "box_nms": lambda: sm.box_nms(boxes, scores, iou_threshold=0.5),
    }[what]


def full_image(side: int, rule: str) -> Callable[[], Any]:
    square = np.array([[0, 0], [side - 1, 0], [side - 1, side - 1], [0, side - 1]], np.float64)
    return lambda: sm.rasterize([square], (side, side), rule=rule)  # type: ignore[arg-type]


CASES: dict[str, Callable[[], dict[str, Callable[[], Any]]]] = {}
for _n in (1000, 10_000):
    for _what in ("masks", "iou", "nms", "box_iou", "box_nms"):
        CASES[f"{_what}{_n}"] = lambda n=_n, what=_what: {"segmask": instances(n, what)}  # type: ignore[misc]
for _side in (10_000, 30_000):
    for _rule in ("coco", "contour"):
        CASES[f"full{_side}{_rule}"] = lambda side=_side, rule=_rule: {"segmask": full_image(side, rule)}  # type: ignore[misc]


def main() -> None:
    parser = command_line(__doc__, "1,000 instances and 10000x10000 only")
    args = parser.parse_args()
    print("| case | s | peak MB | answer MB |")
    print("|---|---:|---:|---:|")
    for name, make in CASES.items():
        if args.quick and (("10000" in name and not name.startswith("full")) or "30000" in name):
            continue
        fn = make()["segmask"]
        start = time.perf_counter()
        answer = fn()
        seconds = time.perf_counter() - start
        size = answer.nbytes / 2**20
        mb = peak_mb(SCRIPT, name, "segmask")
        print(f"| {name} | {seconds:.2f} | {mb:.0f} | {size:.1f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
