"""segmask beside pycocotools and supervision, measured in the same run.

    python benchmarks/run.py            # the full table (a few minutes)
    python benchmarks/run.py --quick    # fewer repeats, a smoke run

Star-shaped polygons with 20-300 vertices on a 1920x1080 image. Times are
medians of repeats interleaved across the contestants (a noisy machine slows
them alike); "x" columns are the peer's time over segmask's (above 1: segmask
is faster). Peak memory is the growth of the peak resident set of a forked
child that runs the task once, inputs already built, in MB.
Needs the benchmark extra: ``pip install -e ".[bench]"``.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import supervision as sv
from pycocotools import mask as pcm

import segmask as sm

H, W = 1080, 1920


def star_polygons(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    out = []
    for _ in range(n):
        k = int(rng.integers(20, 301))
        centre = rng.uniform([160, 160], [W - 160, H - 160])
        radius = rng.uniform(20, 150) * rng.uniform(0.4, 1.0, k)
        angle = np.sort(rng.uniform(0, 2 * np.pi, k))
        out.append(np.stack([centre[0] + radius * np.cos(angle), centre[1] + radius * np.sin(angle)], axis=1))
    return out


def peak_mb(fn: Callable[[], Any]) -> float:
    """Growth of the peak RSS while ``fn`` runs once, in a forked child."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read)
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fn()
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        os.write(write, str((after - before) / 1024).encode())
        os._exit(0)
    os.close(write)
    data = os.read(read, 64)
    os.waitpid(pid, 0)
    return float(data)


def compare(contestants: dict[str, Callable[[], Any]], repeats: int) -> dict[str, tuple[float, float]]:
    """Median seconds (interleaved repeats) and peak MB per contestant."""
    times: dict[str, list[float]] = {name: [] for name in contestants}
    for _ in range(repeats):
        for name, fn in contestants.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    return {name: (statistics.median(times[name]), peak_mb(fn)) for name, fn in contestants.items()}


def row(task: str, results: dict[str, tuple[float, float]]) -> None:
    ours_t, ours_m = results["segmask"]
    for name, (t, m) in results.items():
        if name == "segmask":
            continue
        print(
            f"| {task:<34} | {ours_t * 1e3:9.1f} | {ours_m:7.1f} | {name:<30} | {t * 1e3:9.1f} | {m:7.1f} "
            f"| {t / ours_t:7.2f}x |"
        )
    sys.stdout.flush()


def bench_polygons(n: int, rng: np.random.Generator, repeats: int) -> None:
    polygons = star_polygons(n, rng)
    flat = [p.ravel().tolist() for p in polygons]
    coco = {
        "segmask": lambda: sm.rasterize(polygons, (H, W), rule="coco").to_rle(),
        "pycocotools frPyObjects": lambda: pcm.frPyObjects(flat, H, W),
    }
    row(f"polygon -> RLE, coco rule, N={n}", compare(coco, repeats))

    def sv_contour() -> list[dict]:
        dense = np.stack([sv.polygon_to_mask(np.floor(p + 0.5).astype(np.int32), (W, H)) for p in polygons])
        return pcm.encode(np.asfortranarray(dense.transpose(1, 2, 0).astype(np.uint8)))

    contour = {
        "segmask": lambda: sm.rasterize(polygons, (H, W), rule="contour").to_rle(),
        "sv.polygon_to_mask + pcc encode": sv_contour,
    }
    row(f"polygon -> RLE, contour rule, N={n}", compare(contour, repeats if n <= 100 else 2))
    rles = pcm.frPyObjects(flat, H, W)
    str_rles = [{"size": r["size"], "counts": r["counts"].decode()} for r in rles]
    # pycocotools 2.0.11 raises OverflowError in area() for 256 or more RLEs: give it chunks.
    area = {
        "segmask": lambda: sm.Masks.from_rle(str_rles).area,
        "pycocotools area (255 a call)": lambda: np.concatenate(
            [pcm.area(rles[i : i + 255]) for i in range(0, len(rles), 255)]
        ),
    }
    row(f"area from RLE, N={n}", compare(area, repeats))


def bench_iou(n: int, rng: np.random.Generator, repeats: int) -> None:
    polygons = star_polygons(n, rng)
    rles = pcm.frPyObjects([p.ravel().tolist() for p in polygons], H, W)
    str_rles = [{"size": r["size"], "counts": r["counts"].decode()} for r in rles]
    crowd = [0] * n
    # Both start from RLE dicts: segmask checks and decodes them and builds its crops inside the
    # timing, for both sides (two lists, as pycocotools decodes both).
    other = [dict(r) for r in str_rles]
    from_rle = {"segmask": lambda: sm.iou(str_rles, other), "pycocotools iou": lambda: pcm.iou(rles, rles, crowd)}
    row(f"iou {n}x{n}, from RLE dicts", compare(from_rle, repeats))
    masks = sm.Masks.from_rle(str_rles)
    masks.crop(0)  # crops built once, as in a pipeline that keeps its Masks
    dense = masks.to_dense()
    compact = sv.CompactMask.from_dense(dense, _xyxy(masks), (H, W))
    contestants: dict[str, Callable[[], Any]] = {
        "segmask": lambda: sm.iou(masks, masks),
        "pycocotools iou": lambda: pcm.iou(rles, rles, crowd),
        "sv mask_iou_batch (CompactMask)": lambda: sv.mask_iou_batch(compact, compact),
    }
    if n <= 100:  # dense at 500 would need 500 x 2 MB per side and minutes
        contestants["sv mask_iou_batch (dense)"] = lambda: sv.mask_iou_batch(dense, dense)
    assert np.array_equal(sm.iou(masks, masks), np.asarray(pcm.iou(rles, rles, crowd)))
    row(f"iou {n}x{n}, masks in memory", compare(contestants, repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    rng = np.random.default_rng(0)
    print(f"segmask {sm.__version__}, pycocotools, supervision {sv.__version__}, numpy {np.__version__}")
    print(f"image {W}x{H}; star polygons with 20-300 vertices; {repeats} interleaved repeats\n")
    print(
        "| task                               | segmask ms | seg. MB | peer                           |   peer ms | "
        "peer MB | peer/seg |"
    )
    print("|---|---:|---:|---|---:|---:|---:|")
    for n in (100, 1000):
        bench_polygons(n, rng, repeats)
    for n in (100, 500):
        bench_iou(n, rng, repeats if n <= 100 else 3)


def _xyxy(masks: sm.Masks) -> np.ndarray:
    b = masks.boxes
    return np.stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2] - 1, b[:, 1] + b[:, 3] - 1], axis=1)


if __name__ == "__main__":
    main()
