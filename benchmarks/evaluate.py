"""COCO evaluation: sm.evaluate beside pycocotools, faster-coco-eval and hotcoco, on the same files.

    python benchmarks/evaluate.py            # 500 and 5,000 images
    python benchmarks/evaluate.py --quick    # 500 images, no memory column

The dataset: 640x480 images with 5-15 instances each (polygons and RLE, a
few crowd regions, 20 classes); predictions are the instances with noise
(grown, shrunk, shifted, pixels flipped), some of another class, plus false
ones, as RLE and as polygons. Each engine runs as its users write it: load
the two files, evaluate, accumulate, summarize; ``sm.evaluate`` gets the two
paths (``backend="auto"`` and each engine by name). ``max |diff|`` is the
largest difference of the 12 numbers from pycocotools'. Memory: the peak of
each contestant in a fresh process (harness.py).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as pcm

import segmask as sm

sys.path.insert(0, str(Path(__file__).parent))
from harness import command_line, peak_mb, timed

SCRIPT = Path(__file__)
H, W = 480, 640
ROOT = Path(tempfile.gettempdir()) / "segmask-bench-eval"


def _rle(mask: np.ndarray) -> dict[str, Any]:
    r = pcm.encode(np.asfortranarray(mask))
    return {"size": r["size"], "counts": r["counts"].decode()}


def _polygons(mask: np.ndarray) -> list[list[float]] | None:
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    polys = [c[:, 0, :].astype(float).ravel().tolist() for c in contours if len(c) >= 3]
    return polys or None


def write_dataset(n_images: int, seed: int = 0) -> tuple[Path, Path]:
    """The ground truth and results files for ``n_images`` (made once, kept in the temp folder)."""
    folder = ROOT / f"{n_images}-{seed}"
    gt_path, dt_path = folder / "gt.json", folder / "dt.json"
    if gt_path.exists() and dt_path.exists():
        return gt_path, dt_path
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images, annotations, results = [], [], []
    for i in range(n_images):
        images.append({"id": i + 1, "file_name": f"{i:06d}.jpg", "height": H, "width": W})
        for _ in range(int(rng.integers(5, 16))):
            mask = np.zeros((H, W), np.uint8)
            size = float(np.exp(rng.uniform(np.log(8), np.log(250))))
            centre = (int(rng.uniform(0, W)), int(rng.uniform(0, H)))
            axes = (max(int(size / 2), 1), max(int(size / 2 * rng.uniform(0.4, 1)), 1))
            cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
            if not mask.any():
                continue
            crowd = rng.random() < 0.03
            cat = int(rng.integers(1, 21))
            rle = pcm.encode(np.asfortranarray(mask))
            polys = None if crowd or rng.random() < 0.3 else _polygons(mask)
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": cat,
                                "iscrowd": int(crowd), "segmentation": polys or _rle(mask),
                                "area": float(pcm.area(rle)), "bbox": [float(v) for v in pcm.toBbox(rle)]})  # fmt: skip
            if rng.random() < 0.85:
                k = int(rng.integers(1, 6))
                noisy = (cv2.dilate if rng.random() < 0.5 else cv2.erode)(mask, np.ones((k, k), np.uint8))
                noisy = np.roll(noisy, tuple(int(v) for v in rng.integers(-3, 4, 2)), axis=(0, 1))
                if noisy.any():
                    results.append(_result(i + 1, cat if rng.random() < 0.9 else int(rng.integers(1, 21)), noisy, rng))
        for _ in range(int(rng.integers(0, 4))):  # false predictions
            mask = np.zeros((H, W), np.uint8)
            cv2.circle(mask, (int(rng.uniform(0, W)), int(rng.uniform(0, H))), int(rng.integers(4, 60)), 1, -1)
            results.append(_result(i + 1, int(rng.integers(1, 21)), mask, rng))
    categories = [{"id": c, "name": f"class{c}", "supercategory": "thing"} for c in range(1, 21)]
    gt_path.write_text(json.dumps({"info": {}, "images": images, "annotations": annotations, "categories": categories}))
    dt_path.write_text(json.dumps(results))
    return gt_path, dt_path


def _result(image_id: int, cat: int, mask: np.ndarray, rng: np.random.Generator) -> dict[str, Any]:
    rle = pcm.encode(np.asfortranarray(mask))
    polys = _polygons(mask) if rng.random() < 0.3 else None
    return {"image_id": image_id, "category_id": cat, "score": round(float(rng.uniform(0.05, 1)), 4),
            "segmentation": polys or _rle(mask), "bbox": [float(v) for v in pcm.toBbox(rle)]}  # fmt: skip


def engine_run(name: str, gt_path: Path, dt_path: Path) -> Callable[[], list[float]]:
    """The engine as its users call it on two files."""

    def run() -> list[float]:
        with contextlib.redirect_stdout(io.StringIO()):
            if name == "hotcoco":
                import hotcoco

                gt = hotcoco.COCO(str(gt_path))
                e = hotcoco.COCOeval(gt, gt.loadRes(str(dt_path)), "segm")
            elif name == "faster_coco_eval":
                import faster_coco_eval

                gt = faster_coco_eval.COCO(str(gt_path))
                e = faster_coco_eval.COCOeval_faster(gt, gt.loadRes(str(dt_path)), "segm")
            else:
                from pycocotools.coco import COCO
                from pycocotools.cocoeval import COCOeval

                gt = COCO(str(gt_path))
                e = COCOeval(gt, gt.loadRes(str(dt_path)), "segm")
            e.evaluate()
            e.accumulate()
            e.summarize()
        return [float(v) for v in e.stats]

    return run


def case(n_images: int) -> Callable[[], dict[str, Callable[[], Any]]]:
    def make() -> dict[str, Callable[[], Any]]:
        gt, dt = write_dataset(n_images)
        out: dict[str, Callable[[], Any]] = {"segmask (auto)": lambda: sm.evaluate(gt, dt)}
        for name in sm.BACKENDS:
            out[name] = engine_run(name, gt, dt)
            out[f"segmask ({name})"] = lambda name=name: sm.evaluate(gt, dt, backend=name)  # type: ignore[misc]
        return out

    return make


CASES = {f"{n}": case(n) for n in (500, 5000)}


def main() -> None:
    parser = command_line(__doc__, "500 images only, no memory column")
    args = parser.parse_args()
    print("| images | contestant | s | peak MB | max abs diff vs pycocotools | time / hotcoco |")
    print("|---:|---|---:|---:|---:|---:|")
    for name, make in CASES.items():
        if args.quick and name != "500":
            continue
        contestants = make()
        times = timed(contestants, 7 if name == "500" else 2)
        reference = contestants["pycocotools"]()
        for who, fn in contestants.items():
            got = fn()
            numbers = [got[k] for k in sm.METRICS] if isinstance(got, dict) else got
            diff = max(abs(a - b) for a, b in zip(numbers, reference, strict=True))
            mb = float("nan") if args.quick else peak_mb(SCRIPT, name, who)
            print(f"| {name} | {who} | {times[who]:.2f} | {mb:.0f} | {diff:.1e} | "
                  f"{times[who] / times['hotcoco']:.2f}x |")  # fmt: skip
            sys.stdout.flush()


if __name__ == "__main__":
    main()
