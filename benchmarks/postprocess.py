"""Mask NMS beside supervision, and validate + clip beside a plain shapely loop, in one run.

    python benchmarks/postprocess.py

NMS: star polygons (20-300 vertices) on 1920x1080 rasterized under the
contour rule, random scores, IoU threshold 0.5; supervision's
``mask_non_max_suppression`` gets the dense (N, H, W) masks it needs (made
outside the timing). The kept sets are compared. Geometry: 1000 star polygons
of 200 vertices, a fifth of them bow-ties, validated and clipped to the image.
Times are medians of interleaved repeats; "x" is the peer's time over segmask's.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import shapely
import supervision as sv

import segmask as sm

sys.path.insert(0, str(Path(__file__).parent))
from run import H, W, compare, star_polygons


def bench_nms(n: int, rng: np.random.Generator) -> None:
    polygons = star_polygons(n, rng)
    masks = sm.rasterize(polygons, (H, W))
    scores = rng.random(n)
    dense = masks.to_dense()
    b = masks.boxes
    predictions = np.c_[b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3], scores]
    ours = sm.nms(masks, scores, 0.5)
    theirs = np.flatnonzero(sv.mask_non_max_suppression(predictions, dense, iou_threshold=0.5))
    same = sorted(ours.tolist()) == theirs.tolist()
    fresh = lambda: sm.nms(sm.rasterize(polygons, (H, W)), scores, 0.5)  # noqa: E731 - includes building masks
    r = compare(
        {
            "segmask": lambda: sm.nms(masks, scores, 0.5),
            "with rasterize": fresh,
            "supervision": lambda: sv.mask_non_max_suppression(predictions, dense, iou_threshold=0.5),
        },
        5 if n <= 100 else 3,
    )
    (ours_t, ours_m), (with_t, _), (sv_t, sv_m) = r["segmask"], r["with rasterize"], r["supervision"]
    print(
        f"| nms, N={n} | {ours_t * 1e3:8.1f} | {with_t * 1e3:8.1f} | {sv_t * 1e3:9.1f} | {sv_t / ours_t:7.1f}x "
        f"| {ours_m:6.1f} | {sv_m:7.1f} | {len(ours)} / {len(theirs)}, {'identical' if same else 'DIFFERENT'} |"
    )


def bench_geometry(rng: np.random.Generator) -> None:
    polygons = []
    for i in range(1000):
        k = 200
        centre = rng.uniform([100, 100], [W - 100, H - 100])
        angle = np.sort(rng.uniform(0, 2 * np.pi, k))
        radius = rng.uniform(20, 150) * rng.uniform(0.5, 1.0, k)
        p = np.stack([centre[0] + radius * np.cos(angle), centre[1] + radius * np.sin(angle)], axis=1)
        if i % 5 == 0:
            p[[10, 60]] = p[[60, 10]]  # swapping two vertices makes the ring cross itself
        polygons.append(p)

    def ours() -> None:
        sm.validate(polygons, image_size=(H, W))
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

    def repair_loop() -> None:
        for p in polygons:
            g = shapely.Polygon(p)
            if not g.is_valid:
                shapely.make_valid(g)

    both = {"segmask": ours, "loop": loop, "repair": lambda: sm.repair(polygons), "repair loop": repair_loop}
    t = {name: seconds for name, (seconds, _) in compare(both, 5).items()}
    print(
        f"\nvalidate + clip, 1000 polygons of 200 vertices (200 of them crossing themselves): "
        f"segmask {t['segmask'] * 1e3:.0f} ms, the same checks in a loop of shapely objects {t['loop'] * 1e3:.0f} ms "
        f"({t['loop'] / t['segmask']:.2f}x)"
    )
    print(
        f"repair, the same polygons: segmask {t['repair'] * 1e3:.0f} ms, a loop {t['repair loop'] * 1e3:.0f} ms "
        f"({t['repair loop'] / t['repair']:.2f}x): GEOS's even-odd make_valid of the 200 crossing rings is the cost"
    )


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"segmask {sm.__version__}, supervision {sv.__version__}, shapely {shapely.__version__}; image {W}x{H}\n")
    print("| task | segmask ms | with rasterize ms | supervision ms | sv/seg | seg. MB | sv MB | kept (seg / sv) |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for n in (100, 500):
        bench_nms(n, rng)
    bench_geometry(rng)


if __name__ == "__main__":
    main()
