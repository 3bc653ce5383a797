"""segmask beside pycocotools, rlemasklib and supervision, measured in the same run.

    python benchmarks/run.py            # the full table (several minutes)
    python benchmarks/run.py --quick    # fewer repeats and sizes, no memory column
    python benchmarks/run.py --best --only iou_memory10000   # the best of the repeats, one case
    python benchmarks/run.py --only import   # import segmask beside import pycocotools.mask

Inputs: star-shaped polygons with 20-300 vertices on a 1920x1080 image
(``star_polygons``), and, for the per-image cases, COCO-like images of
640x480 with 5-10 polygons of 10-40 vertices and sizes from 10 to 300 px.
Times are medians (``--best``: minima) of repeats interleaved across the
contestants, after one untimed call of each; memory is
the peak of each contestant run once in a fresh process (see harness.py).
``seg/peer`` is segmask's time over the peer's: below 1, segmask is faster.
Needs the benchmark extra: ``pip install -e ".[bench]"``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
from pycocotools import mask as pcm

import segmask as sm

sys.path.insert(0, str(Path(__file__).parent))
from harness import command_line, row, table_header, timed

H, W = 1080, 1920
SCRIPT = Path(__file__)


def star_polygons(n: int, rng: np.random.Generator, h: int = H, w: int = W) -> list[np.ndarray]:
    out = []
    for _ in range(n):
        k = int(rng.integers(20, 301))
        centre = rng.uniform([160, 160], [w - 160, h - 160])
        radius = rng.uniform(20, 150) * rng.uniform(0.4, 1.0, k)
        angle = np.sort(rng.uniform(0, 2 * np.pi, k))
        out.append(np.stack([centre[0] + radius * np.cos(angle), centre[1] + radius * np.sin(angle)], axis=1))
    return out


def coco_like_images(n: int, rng: np.random.Generator) -> list[list[np.ndarray]]:
    """Per image 5-10 polygons of 10-40 vertices, log-uniform sizes of 10-300 px, on 640x480."""
    images = []
    for _ in range(n):
        polys = []
        for _ in range(int(rng.integers(5, 11))):
            k = int(rng.integers(10, 41))
            size = float(np.exp(rng.uniform(np.log(10), np.log(300))))
            centre = rng.uniform([0, 0], [640, 480])
            r = size / 2 * rng.uniform(0.6, 1.0, k)
            a = np.sort(rng.uniform(0, 2 * np.pi, k))
            polys.append(np.round(np.stack([centre[0] + r * np.cos(a), centre[1] + r * np.sin(a)], 1), 2))
        images.append(polys)
    return images


def strings(polygons: list[np.ndarray], h: int = H, w: int = W) -> tuple[list[dict], list[dict]]:
    """The same masks as pycocotools' bytes RLEs and as str RLEs."""
    rles = pcm.frPyObjects([p.ravel().tolist() for p in polygons], h, w)
    return rles, [{"size": r["size"], "counts": r["counts"].decode()} for r in rles]


def _area_chunks(rles: list[dict]) -> Any:
    # pycocotools 2.0.11 raises OverflowError in area() for 256 or more RLEs: 255 a call.
    return np.concatenate([pcm.area(rles[i : i + 255]) for i in range(0, len(rles), 255)])


# --- cases: each builds its inputs (seeded) and returns its contestants -------------------------


def case_set_ops(n: int, op: str) -> Callable[[], dict[str, Callable[[], Any]]]:
    def make() -> dict[str, Callable[[], Any]]:
        import rlemasklib

        rng = np.random.default_rng(1)
        _, a_str = strings(star_polygons(n, rng))
        _, b_str = strings(star_polygons(n, rng))
        a, b = sm.Masks.from_rle(a_str), sm.Masks.from_rle(b_str)
        ra = [rlemasklib.RLEMask.from_dict(r) for r in a_str]
        rb = [rlemasklib.RLEMask.from_dict(r) for r in b_str]
        if op == "merge":  # one union per group of 10
            groups = np.repeat(np.arange(n // 10), 10)
            chunks = [ra[i : i + 10] for i in range(0, n, 10)]
            return {
                "segmask": lambda: a.merge(groups),
                "rlemasklib": lambda: [rlemasklib.RLEMask.union(c) for c in chunks],
            }
        ours = {"union": a.union, "intersection": a.intersection, "difference": a.difference}[op]
        theirs = {"union": lambda x, y: x | y, "intersection": lambda x, y: x & y, "difference": lambda x, y: x - y}[op]
        return {"segmask": lambda: ours(b), "rlemasklib": lambda: [theirs(x, y) for x, y in zip(ra, rb, strict=True)]}

    return make


def case_set_ops_strings(n: int) -> Callable[[], dict[str, Callable[[], Any]]]:
    def make() -> dict[str, Callable[[], Any]]:
        rng = np.random.default_rng(2)
        a_bytes, a_str = strings(star_polygons(n, rng))
        b_bytes, b_str = strings(star_polygons(n, rng))
        pairs = list(zip(a_bytes, b_bytes, strict=True))
        return {
            "segmask": lambda: sm.Masks.from_rle(a_str).union(sm.Masks.from_rle(b_str)).to_rle(),
            "pycocotools merge": lambda: [pcm.merge([x, y], intersect=0) for x, y in pairs],
        }

    return make


def case_area_boxes(n: int, what: str) -> Callable[[], dict[str, Callable[[], Any]]]:
    def make() -> dict[str, Callable[[], Any]]:
        rng = np.random.default_rng(3)
        rles, str_rles = strings(star_polygons(n, rng))
        if what == "area":
            return {"segmask": lambda: sm.Masks.from_rle(str_rles).area, "pycocotools area": lambda: _area_chunks(rles)}
        return {"segmask": lambda: sm.Masks.from_rle(str_rles).boxes, "pycocotools toBbox": lambda: pcm.toBbox(rles)}

    return make


def case_iou_strings(n: int) -> Callable[[], dict[str, Callable[[], Any]]]:
    def make() -> dict[str, Callable[[], Any]]:
        rng = np.random.default_rng(4)
        rles, str_rles = strings(star_polygons(n, rng))
        other = [dict(r) for r in str_rles]  # two lists, as pycocotools reads both
        crowd = [0] * n
        return {"segmask": lambda: sm.iou(str_rles, other), "pycocotools iou": lambda: pcm.iou(rles, rles, crowd)}

    return make


def iou_canvas(n: int) -> tuple[int, int]:
    """Larger canvases for more masks, so that each mask meets about as many others at every size."""
    scale = max(1.0, (n / 100) ** 0.5)
    return int(H * scale), int(W * scale)


def case_iou_memory(n: int) -> Callable[[], dict[str, Callable[[], Any]]]:
    def make() -> dict[str, Callable[[], Any]]:
        h, w = iou_canvas(n)
        rng = np.random.default_rng(5)
        rles, str_rles = strings(star_polygons(n, rng, h, w), h, w)
        masks = sm.Masks.from_rle(str_rles)
        crowd = [0] * n
        out = {"segmask": lambda: sm.iou(masks, masks), "pycocotools iou": lambda: pcm.iou(rles, rles, crowd)}
        if n <= 1000:
            import rlemasklib

            rmasks = [rlemasklib.RLEMask.from_dict(r) for r in str_rles]
            out["rlemasklib iou_matrix"] = lambda: rlemasklib.RLEMask.iou_matrix(rmasks, rmasks)
        return out

    return make


def speckled_rles(n: int, rng: np.random.Generator, density: float) -> list[dict]:
    """pycocotools RLEs of boxes of 60-300 px on 1080p with ``density`` of their pixels set at random."""
    out = []
    for _ in range(n):
        bh, bw = rng.integers(60, 300, 2)
        y, x = rng.integers(0, H - bh), rng.integers(0, W - bw)
        m = np.zeros((H, W), np.uint8, order="F")
        m[y : y + bh, x : x + bw] = rng.random((bh, bw)) < density
        out.append(pcm.encode(m))
    return out


def case_iou_speckled(n: int, density: float) -> Callable[[], dict[str, Callable[[], Any]]]:
    def make() -> dict[str, Callable[[], Any]]:
        import rlemasklib

        rles = speckled_rles(n, np.random.default_rng(10), density)
        masks = sm.Masks.from_rle(rles)
        rmasks = [rlemasklib.RLEMask.from_dict(r) for r in rles]
        crowd = [0] * n
        return {
            "segmask": lambda: sm.iou(masks, masks),
            "pycocotools iou": lambda: pcm.iou(rles, rles, crowd),
            "rlemasklib iou_matrix": lambda: rlemasklib.RLEMask.iou_matrix(rmasks, rmasks),
        }

    return make


def case_coco_rule_per_image(n_images: int) -> Callable[[], dict[str, Callable[[], Any]]]:
    def make() -> dict[str, Callable[[], Any]]:
        images = coco_like_images(n_images, np.random.default_rng(6))
        flats = [[p.ravel().tolist() for p in polys] for polys in images]

        def ours() -> None:
            for polys in images:
                sm.rasterize(polys, (480, 640), rule="coco").to_rle()

        def theirs() -> None:
            for flat in flats:
                pcm.frPyObjects(flat, 480, 640)

        return {"segmask": ours, "pycocotools frPyObjects": theirs}

    return make


def case_contour_strings(n: int) -> Callable[[], dict[str, Callable[[], Any]]]:
    def make() -> dict[str, Callable[[], Any]]:
        rng = np.random.default_rng(7)
        polygons = star_polygons(n, rng)
        flat = [p.ravel().tolist() for p in polygons]
        return {
            "segmask": lambda: sm.rasterize(polygons, (H, W), rule="contour").to_rle(),
            "pycocotools frPyObjects (coco rule)": lambda: pcm.frPyObjects(flat, H, W),
        }

    return make


def response_bytes(n: int, points: int, rng: np.random.Generator) -> bytes:
    predictions = []
    for i in range(n):
        pts = rng.integers(0, 1000, (points, 2))
        predictions.append({"x": 310.5, "y": 208.0, "width": 81.0, "height": 60.0, "confidence": 0.913,
                            "class": "cat", "class_id": i % 3, "detection_id": f"3f9c-{i}",
                            "points": [{"x": int(x), "y": int(y)} for x, y in pts]})  # fmt: skip
    return json.dumps({"inference_id": "abc", "time": 0.04, "image": {"width": 1000, "height": 1000},
                       "predictions": predictions}).encode()  # fmt: skip


def case_parse(n: int) -> Callable[[], dict[str, Callable[[], Any]]]:
    def make() -> dict[str, Callable[[], Any]]:
        body = response_bytes(n, 145, np.random.default_rng(8))
        return {
            "segmask": lambda: sm.Predictions.from_response(body),
            "json.loads": lambda: json.loads(body),
            "orjson.loads": lambda: orjson.loads(body),
        }

    return make


def case_small(what: str) -> Callable[[], dict[str, Callable[[], Any]]]:
    def make() -> dict[str, Callable[[], Any]]:
        tri = np.array([[10.0, 10.0], [30.0, 12.0], [20.0, 25.0]])
        flat = [tri.ravel().tolist()]
        if what == "iou":
            rng = np.random.default_rng(9)
            rles, str_rles = strings(star_polygons(5, rng))
            masks = sm.Masks.from_rle(str_rles)
            return {"segmask": lambda: sm.iou(masks, masks), "pycocotools iou": lambda: pcm.iou(rles, rles, [0] * 5)}
        rule = what
        return {
            "segmask": lambda: sm.rasterize([tri], (480, 640), rule=rule).to_rle(),  # type: ignore[arg-type]
            "pycocotools frPyObjects": lambda: pcm.frPyObjects(flat, 480, 640),
        }

    return make


def import_times(repeats: int) -> dict[str, float]:
    """Seconds ``import segmask`` and ``import pycocotools.mask`` take, each in a fresh process, interleaved.

    The child times its own import (not the interpreter's start); the best of ``repeats`` is kept.
    """
    code = "import time; t = time.perf_counter(); import {}; print(time.perf_counter() - t)"
    times: dict[str, list[float]] = {"segmask": [], "import pycocotools.mask": []}
    for _ in range(repeats):
        for name, module in (("segmask", "segmask"), ("import pycocotools.mask", "pycocotools.mask")):
            done = subprocess.run([sys.executable, "-c", code.format(module)], capture_output=True, text=True,
                                  check=True)  # fmt: skip
            times[name].append(float(done.stdout))
    return {name: min(t) for name, t in times.items()}


CASES: dict[str, Callable[[], dict[str, Callable[[], Any]]]] = {}
PLAN: list[tuple[str, str, int]] = []  # (task label, case id, repeats)


def _plan(label: str, case_id: str, factory: Callable[[], dict[str, Callable[[], Any]]], repeats: int) -> None:
    CASES[case_id] = factory
    PLAN.append((label, case_id, repeats))


for _op in ("union", "intersection", "difference"):
    _plan(f"{_op}, 1000 mask pairs in memory", f"{_op}1000", case_set_ops(1000, _op), 7)
_plan("merge, 1000 masks in groups of 10", "merge1000", case_set_ops(1000, "merge"), 7)
_plan("union, 1000 pairs, strings in and out", "union_strings", case_set_ops_strings(1000), 11)
_plan("area from 300 COCO strings", "area300", case_area_boxes(300, "area"), 15)
_plan("boxes from 300 COCO strings", "boxes300", case_area_boxes(300, "boxes"), 15)
_plan("iou 100x100 from COCO strings", "iou_strings100", case_iou_strings(100), 11)
_plan("iou 500x500 from COCO strings", "iou_strings500", case_iou_strings(500), 5)
for _n in (100, 1000, 10_000):
    _plan(f"iou {_n}x{_n}, masks in memory", f"iou_memory{_n}", case_iou_memory(_n), 7 if _n < 10_000 else 3)
for _d in (0.03, 0.5):
    _plan(f"iou 200x200, speckled masks ({_d:.0%} of a box set)", f"iou_speckled{int(_d * 100)}",
          case_iou_speckled(200, _d), 7)  # fmt: skip
_plan("coco rule, 1000 images of 5-10 polygons, 640x480", "coco_per_image", case_coco_rule_per_image(1000), 5)
_plan("contour rule, 1000 polygons -> strings, 1080p", "contour1000", case_contour_strings(1000), 5)
_plan("from_response(bytes), 100 polygons of 145 points", "parse100", case_parse(100), 21)
_plan("one triangle -> RLE, coco rule", "small_coco", case_small("coco"), 201)
_plan("one triangle -> RLE, contour rule", "small_contour", case_small("contour"), 201)
_plan("iou of 5x5 masks in memory", "small_iou", case_small("iou"), 201)


def main() -> None:
    parser = command_line(__doc__, "fewer repeats, no 10,000-mask case, no memory")
    parser.add_argument("--only", nargs="*", help="case ids to run (default: all)")
    parser.add_argument("--best", action="store_true", help="the best of the repeats instead of their median")
    args = parser.parse_args()
    import rlemasklib

    print(f"segmask {sm.__version__}, pycocotools, rlemasklib {getattr(rlemasklib, '__version__', '?')}, "
          f"numpy {np.__version__}\n")  # fmt: skip
    table_header()
    if not args.only or "import" in args.only:
        row("import segmask, fresh process (best of 9)", SCRIPT, "import", import_times(9), memory=False)
    for label, case_id, repeats in PLAN:
        if args.only and case_id not in args.only:
            continue
        if args.quick and case_id == "iou_memory10000":
            continue
        contestants = CASES[case_id]()
        times = timed(contestants, max(3, repeats // 3) if args.quick else repeats, "min" if args.best else "median")
        row(label, SCRIPT, case_id, times, memory=not args.quick)


if __name__ == "__main__":
    main()
