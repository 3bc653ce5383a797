"""Mask NMS beside supervision, and validate + clip + repair beside plain shapely loops, in one run.

    python benchmarks/postprocess.py            # with the memory column
    python benchmarks/postprocess.py --quick    # without

NMS: star polygons (20-300 vertices) on 1920x1080 rasterized under the
contour rule, random scores, IoU threshold 0.5; supervision's
``mask_non_max_suppression`` gets the dense (N, H, W) masks it needs (made
outside the timing); the kept sets are compared. Geometry: 1000 star polygons
of 200 vertices, a fifth of them crossing themselves, validated and clipped to
the image, then repaired. Times are medians of interleaved repeats; memory the
peak of each contestant in a fresh process (harness.py). ``seg/peer`` below 1:
segmask is faster.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import shapely

import segmask as sm

sys.path.insert(0, str(Path(__file__).parent))
from harness import command_line, row, table_header, timed
from run import H, W, star_polygons

SCRIPT = Path(__file__)


def case_nms(n: int) -> Callable[[], dict[str, Callable[[], Any]]]:
    def make() -> dict[str, Callable[[], Any]]:
        import supervision as sv

        rng = np.random.default_rng(n)
        polygons = star_polygons(n, rng)
        masks = sm.rasterize(polygons, (H, W))
        scores = rng.random(n)
        dense = masks.to_dense()
        b = masks.boxes
        predictions = np.c_[b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3], scores]
        return {
            "segmask": lambda: sm.nms(masks, scores, iou_threshold=0.5),
            "segmask with rasterize": lambda: sm.nms(sm.rasterize(polygons, (H, W)), scores, iou_threshold=0.5),
            "supervision": lambda: sv.mask_non_max_suppression(predictions, dense, iou_threshold=0.5),
        }

    return make


def geometry_polygons() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    polygons = []
    for i in range(1000):
        centre = rng.uniform([100, 100], [W - 100, H - 100])
        angle = np.sort(rng.uniform(0, 2 * np.pi, 200))
        radius = rng.uniform(20, 150) * rng.uniform(0.5, 1.0, 200)
        p = np.stack([centre[0] + radius * np.cos(angle), centre[1] + radius * np.sin(angle)], axis=1)
        if i % 5 == 0:
            p[[10, 60]] = p[[60, 10]]  # swapping two vertices makes the ring cross itself
        polygons.append(p)
    return polygons


def case_validate_clip() -> dict[str, Callable[[], Any]]:
    polygons = geometry_polygons()

    def ours() -> None:
        sm.validate(polygons, (H, W))
        sm.clip(polygons, (H, W))

    def loop() -> None:
        """The same checks, one shapely object at a time."""
        rect = shapely.box(-0.5, -0.5, W - 0.5, H - 0.5)
        for p in polygons:
            g = shapely.Polygon(p)
            reason = shapely.is_valid_reason(g)
            made = g if reason == "Valid Geometry" else shapely.make_valid(g, method="structure", keep_collapsed=False)
            _ = made.area, made.intersects(rect), made.covered_by(rect)
            shapely.clip_by_rect(g, *rect.bounds)

    return {"segmask": ours, "shapely loop": loop}


def case_repair() -> dict[str, Callable[[], Any]]:
    polygons = geometry_polygons()

    def loop() -> None:
        for p in polygons:
            g = shapely.Polygon(p)
            if not g.is_valid:
                shapely.make_valid(g)

    return {"segmask": lambda: sm.repair(polygons), "shapely loop": loop}


CASES = {"nms100": case_nms(100), "nms500": case_nms(500), "validate_clip": case_validate_clip, "repair": case_repair}
LABELS = {
    "nms100": "mask NMS, 100 masks 1080p",
    "nms500": "mask NMS, 500 masks 1080p",
    "validate_clip": "validate + clip, 1000 polygons of 200 vertices",
    "repair": "repair, the same 1000 polygons (200 crossing)",
}


def main() -> None:
    parser = command_line(__doc__, "fewer repeats, no memory column")
    args = parser.parse_args()
    print(f"segmask {sm.__version__}, shapely {shapely.__version__}; image {W}x{H}\n")
    table_header()
    for case_id, make in CASES.items():
        contestants = make()
        if case_id.startswith("nms"):  # the same kept set, or the table says so
            kept = sorted(contestants["segmask"]().tolist())
            theirs = np.flatnonzero(contestants["supervision"]()).tolist()
            assert kept == theirs, f"{case_id}: segmask keeps {len(kept)}, supervision {len(theirs)}"
        times = timed(contestants, 3 if args.quick else 5)
        row(LABELS[case_id], SCRIPT, case_id, times, memory=not args.quick)


if __name__ == "__main__":
    main()
