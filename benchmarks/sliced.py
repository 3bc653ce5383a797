"""Merging tiles' predictions into one answer: segmask beside sahi and supervision, in the same run.

    python benchmarks/sliced.py            # 4000x3000 with 500 objects, 12000x12000 with 5000
    python benchmarks/sliced.py --quick    # the small image only, no memory column

The scene: objects of two classes (ellipses of 6 to 300 px, a few longer than
a tile, none touching another) on a label image; the "model" of a tile gives
each 8-connected region of a class in that tile, exactly, so that the right
answer is known: the regions of the whole image. Each contestant gets the
same tiles' answers (640 px, overlap 0.2: sahi's and segmask's windows; the
supervision slicer cuts its own, of the same size and overlap) and only the
merge is timed:

* segmask: ``merge_tiles`` (masks as runs, joined on the windows' shared pixels);
* sahi: ``GreedyNMMPostprocess(match_metric="IOS", match_threshold=0.5)`` on
  ``ObjectPrediction`` polygons (shifted to the image), as its sliced prediction does;
* supervision: ``InferenceSlicer`` with a callback that hands back the
  prepared answer of each slice, merging with NMS and with NMM (IoU 0.5),
  with its compact masks (its dense masks take H x W bytes per detection:
  1.4 GB a hundred detections at 12000x12000).

"right" counts the objects matched one to one with a whole-image region at
mask IoU >= 0.98. Memory is the peak of each contestant in a fresh process
(harness.py). ``seg/peer`` below 1: segmask is faster.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np

import segmask as sm

sys.path.insert(0, str(Path(__file__).parent))
from harness import command_line, peak_mb, timed

SCRIPT = Path(__file__)
TILE, OVERLAP = 640, 0.2
CLASSES = {1: "a", 2: "b"}


def scene(h: int, w: int, n: int, seed: int = 0) -> np.ndarray:
    """A uint8 label image with about ``n`` objects of classes 1 and 2, none touching another."""
    rng = np.random.default_rng(seed)
    labels = np.zeros((h, w), np.uint8)
    taken = np.zeros((h, w), np.uint8)
    placed = 0
    for _ in range(n * 4):
        if placed == n:
            break
        long = rng.random() < 0.02
        ax = int(rng.integers(300, 900)) if long else int(np.exp(rng.uniform(np.log(3), np.log(150))))
        ay = int(rng.integers(3, 12)) if long else int(ax * rng.uniform(0.4, 1.0))
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        blob = np.zeros((h, w), np.uint8)
        x0, y0, x1, y1 = max(cx - ax - 2, 0), max(cy - ax - 2, 0), min(cx + ax + 3, w), min(cy + ax + 3, h)
        window = blob[y0:y1, x0:x1]
        cv2.ellipse(window, (cx - x0, cy - y0), (ax, ay), float(rng.uniform(0, 180)), 0, 360, 1, -1)
        grown = cv2.dilate(window, np.ones((5, 5), np.uint8))
        if (grown & taken[y0:y1, x0:x1]).any():
            continue
        taken[y0:y1, x0:x1] |= window
        labels[y0:y1, x0:x1][window > 0] = rng.integers(1, 3)
        placed += 1
    return labels


def regions(labels: np.ndarray) -> list[tuple[str, np.ndarray, tuple[int, int, int, int]]]:
    """Each 8-connected region of each class: (class, its crop as bool, (x, y, w, h))."""
    out = []
    for value, name in CLASSES.items():
        count, lab, stats, _ = cv2.connectedComponentsWithStats((labels == value).astype(np.uint8), connectivity=8)
        for k in range(1, count):
            x, y, w, h, _ = (int(v) for v in stats[k])
            out.append((name, lab[y : y + h, x : x + w] == k, (x, y, w, h)))
    return out


def tile_predictions(labels: np.ndarray) -> tuple[list[sm.Predictions], np.ndarray]:
    windows = sm.tiles(labels.shape, tile=TILE, overlap=OVERLAP)
    parts = []
    for x, y, w, h in windows.tolist():
        found = regions(labels[y : y + h, x : x + w])
        masks = [sm.Masks.from_dense(c[None]).translate(bx, by, (h, w)) for _, c, (bx, by, _, _) in found]
        all_masks = sm.Masks.concatenate(masks) if masks else sm.Masks.empty((h, w))
        parts.append(sm.Predictions.from_masks(all_masks, confidence=[0.9] * len(found),
                                               class_name=[c for c, _, _ in found]))  # fmt: skip
    return parts, windows


def truth(labels: np.ndarray) -> sm.Masks:
    found = regions(labels)
    return sm.Masks.concatenate(
        [sm.Masks.from_dense(c[None]).translate(x, y, labels.shape) for _, c, (x, y, _, _) in found]
    )


def right(found: sm.Masks, want: sm.Masks) -> int:
    """Objects matched one to one at mask IoU >= 0.98."""
    if not len(found) or not len(want):
        return 0
    m = sm.iou(want, found)
    best = m.argmax(axis=1)
    mutual = m.argmax(axis=0)[best] == np.arange(len(want))
    return int(((m[np.arange(len(want)), best] >= 0.98) & mutual).sum())


# --- the contestants -------------------------------------------------------------------------


def sahi_inputs(parts: list[sm.Predictions], windows: np.ndarray, size: tuple[int, int]) -> list[Any]:
    from sahi.prediction import ObjectPrediction

    out = []
    for p, (x, y, _, _) in zip(parts, windows.tolist(), strict=True):
        polygons = sm.masks_to_polygons(p.masks())
        for k, parts_k in enumerate(polygons):
            segmentation = [list(np.asarray(g.exterior.coords)[:-1].ravel()) for g in parts_k]
            bx, by, bw, bh = p.xywh[k]
            out.append(ObjectPrediction(bbox=[bx, by, bx + bw, by + bh], category_id=list(CLASSES.values()).index(
                p.class_name[k]), category_name=str(p.class_name[k]), segmentation=segmentation, score=0.9,
                shift_amount=[x, y], full_shape=[size[0], size[1]]).get_shifted_object_prediction())  # fmt: skip
    return out


def sahi_masks(merged: list[Any], size: tuple[int, int]) -> sm.Masks:
    shapes = []
    for o in merged:
        rings = [np.asarray(s, np.float64).reshape(-1, 2) for s in o.mask.segmentation if len(s) >= 6]
        shapes.append(rings)
    import shapely

    polys = [shapely.MultiPolygon([shapely.Polygon(r) for r in rings]) if rings else None for rings in shapes]
    return sm.rasterize([p if p is not None else shapely.Polygon() for p in polys], size, rule="contour")


def supervision_slicer(labels: np.ndarray, answers: dict[tuple[int, int], Any], strategy: str) -> Callable[[], Any]:
    import supervision as sv

    base = labels.__array_interface__["data"][0]
    row = labels.strides[0]

    def callback(image_slice: np.ndarray) -> Any:
        offset = image_slice.__array_interface__["data"][0] - base
        return answers[(offset % row, offset // row)]

    overlap = round(TILE * OVERLAP)
    filters = {"nms": sv.OverlapFilter.NON_MAX_SUPPRESSION, "nmm": sv.OverlapFilter.NON_MAX_MERGE}
    slicer = sv.InferenceSlicer(callback=callback, slice_wh=TILE, overlap_wh=overlap, overlap_filter=filters[strategy],
                                iou_threshold=0.5, thread_workers=1, compact_masks=True)  # fmt: skip
    return lambda: slicer(labels)


def supervision_answers(labels: np.ndarray) -> dict[tuple[int, int], Any]:
    """The answer of every slice the supervision slicer cuts, keyed by its corner."""
    import supervision as sv

    seen: list[tuple[int, int, int, int]] = []
    base = labels.__array_interface__["data"][0]
    row = labels.strides[0]

    def record(image_slice: np.ndarray) -> Any:
        offset = image_slice.__array_interface__["data"][0] - base
        seen.append((offset % row, offset // row, image_slice.shape[1], image_slice.shape[0]))
        return sv.Detections.empty()

    sv.InferenceSlicer(callback=record, slice_wh=TILE, overlap_wh=round(TILE * OVERLAP), thread_workers=1)(labels)
    answers = {}
    for x, y, w, h in seen:
        found = regions(labels[y : y + h, x : x + w])
        masks = np.zeros((len(found), h, w), bool)
        for k, (_, crop, (bx, by, bw, bh)) in enumerate(found):
            masks[k, by : by + bh, bx : bx + bw] = crop
        boxes = np.array([[bx, by, bx + bw - 1, by + bh - 1] for _, _, (bx, by, bw, bh) in found], np.float64)
        answers[(x, y)] = sv.Detections(
            xyxy=boxes.reshape(-1, 4), mask=masks, confidence=np.full(len(found), 0.9),
            class_id=np.array([list(CLASSES.values()).index(c) for c, _, _ in found], int),
        )  # fmt: skip
    return answers


def supervision_masks(detections: Any, size: tuple[int, int]) -> sm.Masks:
    mask = detections.mask
    if mask is None or not len(detections):
        return sm.Masks.empty(size)
    return sm.Predictions.from_supervision(detections).masks()


def case(h: int, w: int, n: int) -> Callable[[], dict[str, Callable[[], Any]]]:
    def make() -> dict[str, Callable[[], Any]]:
        from sahi.postprocess.combine import GreedyNMMPostprocess

        labels = scene(h, w, n)
        parts, windows = tile_predictions(labels)
        sahi_in = sahi_inputs(parts, windows, (h, w))
        sahi_merge = GreedyNMMPostprocess(match_threshold=0.5, match_metric="IOS", class_agnostic=False)
        answers = supervision_answers(labels)
        return {
            "segmask": lambda: sm.merge_tiles(parts, windows, (h, w)),
            "sahi greedy NMM (IOS)": lambda: sahi_merge(list(sahi_in)),
            "supervision slicer NMS": supervision_slicer(labels, answers, "nms"),
            "supervision slicer NMM": supervision_slicer(labels, answers, "nmm"),
        }

    return make


SIZES = {"4000x3000": (3000, 4000, 500), "12000x12000": (12000, 12000, 5000)}
CASES = {name: case(*spec) for name, spec in SIZES.items()}


def main() -> None:
    parser = command_line(__doc__, "the small image only, no memory column")
    args = parser.parse_args()
    print("| image | objects | merger | ms | peak MB | right | results | seg/peer time |")
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for name, (h, w, n) in SIZES.items():
        if args.quick and name != "4000x3000":
            continue
        contestants = CASES[name]()
        labels = scene(h, w, n)
        want = truth(labels)
        times = timed(contestants, 3 if name == "4000x3000" else 1)
        for who, fn in contestants.items():
            result = fn()
            if who == "segmask":
                got = result.masks()
            elif who.startswith("sahi"):
                got = sahi_masks(result, (h, w))
            else:
                got = supervision_masks(result, (h, w))
            mb = float("nan") if args.quick else peak_mb(SCRIPT, name, who)
            ratio = times["segmask"] / times[who]
            print(f"| {name} | {len(want)} | {who} | {times[who] * 1e3:.0f} | {mb:.0f} | {right(got, want)} | "
                  f"{len(got)} | {ratio:.3f}x |")  # fmt: skip
            sys.stdout.flush()


if __name__ == "__main__":
    main()
