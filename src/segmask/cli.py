"""The ``segmask`` command line (also ``python -m segmask``).

Every command wraps the public functions. Errors print one line to stderr,
naming the file and the JSON path; the exit code is 2 for bad input and 1
for failures (an image the API did not answer, a failed request).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np
from tqdm import tqdm

from ._io import atomic_write
from .draw import draw
from .errors import APIError, SegmaskError
from .evaluate import METRICS, evaluate
from .exports import to_coco
from .ops import iou
from .pipeline import (
    class_names,
    coco_record,
    image_name,
    parallel_map,
    png_file,
    read_response,
    response_files,
    results_file,
    write_coco,
    write_json_list,
    yolo_file,
)
from .predictions import Predictions
from .raster import RULES, Rule

__all__ = ["main"]

T = TypeVar("T")


class _Failed(Exception):
    """Some inputs failed (exit 1); the details were printed."""


# --- commands ------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> None:
    """Parse the bundled response, rasterize it, print a table and IoUs, write COCO JSON and an overlay."""
    data = resources.files("segmask") / "data"
    preds = Predictions.from_response((data / "sample_response.json").read_bytes())
    rule: Rule = args.rule
    masks = preds.masks(rule=rule)
    h, w = masks.image_size
    print(f"segmask demo: the bundled sample response, {len(preds)} predictions on a {w}x{h} image, rule={rule!r}")
    print()
    print(f"{'#':>3}  {'class':<8}{'confidence':>11}{'area':>8}  box [x, y, w, h]")
    for i in range(len(preds)):
        box = ", ".join(f"{v:g}" for v in masks.boxes[i])
        print(f"{i:>3}  {preds.class_name[i]:<8}{preds.confidence[i]:>11.3f}{masks.area[i]:>8}  [{box}]")
    matrix = iou(masks, masks)
    np.fill_diagonal(matrix, 0.0)
    touching = np.flatnonzero((matrix > 0).any(axis=1)).tolist()
    print()
    if touching:
        print("IoU of the instances that overlap:")
        print("     " + "".join(f"{j:>8}" for j in touching))
        for i in touching:
            print(f"{i:>5}" + "".join(f"{matrix[i, j]:>8.4f}" if i != j else f"{'-':>8}" for j in touching))
    else:
        print("No instances overlap.")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    coco = to_coco([("sample.png", preds)], segmentation="rle", rule=rule)
    atomic_write(out / "coco.json", json.dumps(coco, indent=1).encode())
    image = cv2.imdecode(np.frombuffer((data / "sample.png").read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    if image is None:  # pragma: no cover - the installed package is damaged
        raise SegmaskError("the bundled sample.png could not be read")
    _, png = cv2.imencode(".png", draw(np.asarray(image, dtype=np.uint8), preds))
    atomic_write(out / "overlay.png", png.tobytes())
    print()
    print(
        f"Wrote {out / 'coco.json'} (COCO instances, {len(coco['annotations'])} masks as RLE) and {out / 'overlay.png'}"
    )


def cmd_fetch(args: argparse.Namespace) -> None:
    """Responses for images, one JSON per image in --out, named after the image."""
    from .fetch import RoboflowClient

    client = RoboflowClient(api_url=args.api_url, retries=args.retries, max_connections=max(args.workers, 1))
    images = [str(p) for p in args.images]
    params: dict[str, str | int | float | bool] = {}
    if args.max_detections is not None:
        params["max_detections"] = args.max_detections
    results = client.infer_many(
        images, args.model, workers=args.workers, progress=not args.no_progress,
        confidence=args.confidence, overlap=args.overlap, **params,
    )  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []
    for image, result in zip(images, results, strict=True):
        if isinstance(result, Exception):
            failed.append((image, result))
            continue
        name = image.rstrip("/").rsplit("/", 1)[-1] if "://" in image else Path(image).name
        atomic_write(args.out / f"{name}.json", json.dumps(result.to_dict()).encode())
    print(f"segmask fetch: {len(images) - len(failed)} of {len(images)} responses written to {args.out}")
    for image, exc in failed:
        print(f"segmask: failed: {image}: {exc}", file=sys.stderr)
    if failed:
        if all(not isinstance(exc, APIError) for _, exc in failed):
            raise SegmaskError(f"{len(failed)} images could not be used")
        raise _Failed


def cmd_convert(args: argparse.Namespace) -> None:
    """Response files (or folders of them) to COCO, COCO results, YOLO labels or PNG masks.

    Every mode converts file by file on ``--workers`` processes and writes as
    results come in order; single-file outputs appear whole or not at all.
    """
    paths = response_files(args.responses)
    rule: Rule | None = args.rule

    def progress(results: Iterable[T]) -> Iterable[T]:
        bar: Iterable[T] = tqdm(
            results, total=len(paths), unit="file", disable=args.no_progress, desc="segmask convert"
        )
        return bar

    out = Path(args.out)
    if args.to == "coco":
        jobs = [(p, rule, args.segmentation) for p in paths]
        summary = write_coco(progress(parallel_map(coco_record, jobs, args.workers)), out)
        print(f"segmask convert: {summary['images']} images, {summary['annotations']} annotations, "
              f"{summary['categories']} categories written to {out}")  # fmt: skip
    elif args.to == "coco-results":
        if args.gt is None:
            raise SegmaskError("--to coco-results needs --gt GT.json, for the image and category ids")
        gt = json.loads(Path(args.gt).read_bytes())
        image_ids = {str(im["file_name"]): im["id"] for im in gt["images"]}
        categories = {str(c["name"]): int(c["id"]) for c in gt["categories"]}
        missing = [p for p in paths if image_name(p) not in image_ids]
        if missing:
            raise SegmaskError(f"{missing[0]}: {image_name(missing[0])!r} is not an image of {args.gt}")
        jobs2 = [(p, int(image_ids[image_name(p)]), categories, rule) for p in paths]
        count = write_json_list(progress(parallel_map(results_file, jobs2, args.workers)), out)
        print(f"segmask convert: {count} results written to {out}")
    elif args.to == "yolo":
        names = class_names(paths)
        out.mkdir(parents=True, exist_ok=True)
        ids = {n: k for k, n in enumerate(names)}
        counts = np.zeros(3, dtype=np.int64)
        for c in progress(parallel_map(yolo_file, [(p, out, ids, rule) for p in paths], args.workers)):
            counts += c
        atomic_write(out / "classes.txt", ("\n".join(names) + "\n").encode())
        print(f"segmask convert: {len(paths)} label files written to {out} "
              f"({counts[0]} exact polygons, {counts[1]} approximated)")  # fmt: skip
    else:
        out.mkdir(parents=True, exist_ok=True)
        lost = sum(progress(parallel_map(png_file, [(p, out, rule) for p in paths], args.workers)))
        print(f"segmask convert: {len(paths)} PNG masks written to {out} "
              f"({lost} overlapping pixels went to the later instance)")  # fmt: skip


def cmd_eval(args: argparse.Namespace) -> None:
    """COCO metrics of predictions against ground truth."""
    pred = Path(args.pred)
    predictions = [(image_name(p), read_response(p)) for p in response_files([pred])] if pred.is_dir() else pred
    result = evaluate(args.gt, predictions, iou_type=args.iou_type, backend=args.backend)
    width = max(len(k) for k in METRICS)
    for k in METRICS:
        print(f"{k:<{width}}  {result[k]:.4f}")
    print()
    print("AP per class:")
    for name, ap in sorted(result["per_class"].items()):
        print(f"  {name:<20} {ap:.4f}")


def cmd_iou(args: argparse.Namespace) -> None:
    """The IoU matrix of two responses of one image."""
    a, b = read_response(args.a), read_response(args.b)
    size = a.image_size or b.image_size
    if size is None:
        raise SegmaskError(f"{args.a}: the response has no image size")
    matrix = iou(a.masks(rule=args.rule, image_size=size), b.masks(rule=args.rule, image_size=size))
    print(f"IoU, rows: {args.a} ({len(a)}), columns: {args.b} ({len(b)})")
    print("      " + "".join(f"{j:>8}" for j in range(len(b))))
    for i, row in enumerate(matrix):
        print(f"{i:>5} " + "".join(f"{v:>8.4f}" for v in row))


def cmd_validate(args: argparse.Namespace) -> None:
    """The problems of every polygon in response files."""
    bad = 0
    for path in response_files(args.responses):
        preds = read_response(path)
        for check in preds.validate(rule=args.rule):
            if not check.ok and check.problems != ("no_polygon",):
                bad += 1
                print(f"{path}: predictions[{check.index}]: {str(check).split(': ', 1)[1]}")
    print(f"segmask validate: {bad} predictions with problems")
    if bad:
        raise _Failed


# --- the parser ----------------------------------------------------------------------------


_EXAMPLES = {
    "demo": "  segmask demo                      # ./segmask-demo/coco.json and overlay.png\n"
    "  segmask demo --out /tmp/d --rule coco",
    "fetch": "  export ROBOFLOW_API_KEY=...\n  segmask fetch photos/*.jpg --model your-model/42 --out responses/\n"
    "  segmask fetch https://example.com/a.jpg --model your-model/42 --confidence 0.5 --out responses/",
    "convert": "  segmask convert responses/ --to coco --out dataset.json --workers 8\n"
    "  segmask convert responses/ --to coco-results --gt gt.json --out results.json\n"
    "  segmask convert responses/*.json --to yolo --out labels/\n"
    "  segmask convert responses/ --to png --out masks/",
    "eval": "  segmask eval --gt gt.json --pred results.json\n  segmask eval --gt gt.json --pred responses/",
    "iou": "  segmask iou model_a/photo.jpg.json model_b/photo.jpg.json",
    "validate": "  segmask validate responses/",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segmask",
        description="Instance-segmentation predictions to masks and numbers you can trust.",
        epilog="examples:\n" + "\n".join(_EXAMPLES.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help, description=help, epilog="examples:\n" + _EXAMPLES[name],
                              formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip

    p = command("demo", "run the main job on the bundled sample (no network, no key)")
    p.add_argument("--out", type=Path, default=Path("segmask-demo"), help="output folder (default: ./segmask-demo)")
    p.add_argument("--rule", choices=RULES, default="contour", help="rasterization rule (default: contour)")
    p.set_defaults(run=cmd_demo)

    p = command("fetch", "get responses from the hosted API, one JSON per image (key from ROBOFLOW_API_KEY)")
    p.add_argument("images", nargs="+", help="image files or http(s) URLs")
    p.add_argument("--model", required=True, help="project/version, e.g. your-model/42")
    p.add_argument("--out", type=Path, required=True, help="folder for the responses")
    p.add_argument("--confidence", type=float, default=0.4, help="a fraction in [0, 1] (default 0.4)")
    p.add_argument("--overlap", type=float, default=0.3, help="a fraction in [0, 1] (default 0.3)")
    p.add_argument("--max-detections", type=int, default=None)
    p.add_argument("--api-url", default="https://serverless.roboflow.com")
    p.add_argument("--workers", type=int, default=8, help="requests in flight (default 8)")
    p.add_argument("--retries", type=int, default=3)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=cmd_fetch)

    p = command("convert", "convert response files to COCO, COCO results, YOLO labels or PNG masks")
    p.add_argument("responses", nargs="+", type=Path, help="response JSON files or folders of them")
    p.add_argument("--to", required=True, choices=("coco", "coco-results", "yolo", "png"))
    p.add_argument("--out", type=Path, required=True, help="a file (coco, coco-results) or a folder (yolo, png)")
    p.add_argument("--rule", choices=RULES, default=None, help="how polygons are filled (default: contour)")
    p.add_argument("--segmentation", choices=("polygon", "rle"), default="polygon", help="for --to coco")
    p.add_argument("--gt", type=Path, default=None, help="ground truth, for --to coco-results")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=cmd_convert)

    p = command("eval", "COCO metrics of predictions against ground truth")
    p.add_argument("--gt", type=Path, required=True, help="COCO instances file")
    p.add_argument("--pred", type=Path, required=True, help="COCO results file, or a folder of responses")
    p.add_argument("--iou-type", choices=("segm", "bbox"), default="segm")
    p.add_argument("--backend", choices=("pycocotools", "faster_coco_eval"), default="pycocotools")
    p.set_defaults(run=cmd_eval)

    p = command("iou", "the IoU matrix of the instances of two responses of one image")
    p.add_argument("a", type=Path)
    p.add_argument("b", type=Path)
    p.add_argument("--rule", choices=RULES, default="contour")
    p.set_defaults(run=cmd_iou)

    p = command("validate", "print the problems of every polygon in response files")
    p.add_argument("responses", nargs="+", type=Path, help="response JSON files or folders of them")
    p.add_argument("--rule", choices=RULES, default="contour")
    p.set_defaults(run=cmd_validate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except _Failed:
        return 1
    except APIError as exc:
        print(f"segmask: failed: {exc}", file=sys.stderr)
        return 1
    except SegmaskError as exc:
        print(f"segmask: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
