"""The ``segmask`` command line (also ``python -m segmask``).

Every command wraps the public functions. Every failure is one line on
stderr, naming the file (and the JSON path); ``--debug`` shows the
traceback instead. Exit codes: 0 done; 1 a failure of the server or of some
files (the others were done, and each failed one is named); 2 bad input
(nothing was done); 130 interrupted.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
import orjson
from tqdm import tqdm

from ._io import atomic_open, atomic_write, remove_stale
from .coco import CocoWriter, ground_truth_ids, to_coco
from .datasets import output_paths, usable_folder
from .draw import draw
from .errors import APIError, InputError, SegmaskError
from .evaluate import BACKENDS, METRICS, confusion_matrix, evaluate
from .fetch import RoboflowClient
from .iou import iou
from .pipeline import (
    Failure,
    class_names,
    coco_file,
    parallel_map,
    png_file,
    read_response,
    response_files,
    results_file,
    yolo_file,
)
from .png import png_name
from .predictions import Predictions
from .rules import RULES, Rule
from .yolo import label_name

__all__ = ["main"]

T = TypeVar("T")


class _Failed(Exception):
    """Some inputs failed (exit 1); each was named already."""


def _report_failures(failures: Sequence[Failure]) -> None:
    for f in failures:
        print(f"segmask: failed: {f.message}", file=sys.stderr)
    if failures:
        raise _Failed


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
        box = ", ".join(str(v) for v in masks.boxes[i].tolist())
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
    out = usable_folder(args.out, "--out")
    report = to_coco([("sample.png", preds)], out / "coco.json", segmentation="rle", rule=rule)
    image = cv2.imdecode(np.frombuffer((data / "sample.png").read_bytes(), np.uint8), cv2.IMREAD_COLOR)
    if image is None:  # pragma: no cover - the installed package is damaged
        raise SegmaskError("the bundled sample.png could not be read")
    _, png = cv2.imencode(".png", draw(np.asarray(image, dtype=np.uint8), preds))
    atomic_write(out / "overlay.png", png.tobytes())
    print()
    print(f"Wrote {out / 'coco.json'} (COCO instances, {report.instances} masks as RLE) and {out / 'overlay.png'}")


def cmd_fetch(args: argparse.Namespace) -> None:
    """Responses for images, one JSON per image in --out, with the images' folders."""
    if not os.environ.get("ROBOFLOW_API_KEY"):
        raise InputError("no API key: set the environment variable ROBOFLOW_API_KEY")
    images = [str(p) for p in args.images]
    out = usable_folder(args.out, "--out")
    # Every output's place is settled before the first call: no answer is paid for and then lost.
    targets = output_paths(images, out, lambda rel: f"{rel}.json")
    client = RoboflowClient(api_url=args.api_url, retries=args.retries, timeout=(min(10.0, args.timeout), args.timeout),
                            max_connections=max(args.workers, 1), key_in=args.key_in)  # fmt: skip
    params: dict[str, Any] = {}
    if args.max_detections is not None:
        params["max_detections"] = args.max_detections
    results: list[Any]
    if args.tile is None:
        results = client.infer_many(
            images, args.model, workers=args.workers, progress=not args.no_progress,
            confidence=args.confidence, overlap=args.overlap, **params,
        )  # fmt: skip
    else:  # image by image, its tiles in parallel
        results = []
        for image in tqdm(images, unit="image", disable=args.no_progress, desc=f"segmask {args.model} (tiled)"):
            try:
                results.append(client.infer_sliced(
                    image, args.model, tile=args.tile, tile_overlap=args.tile_overlap, workers=args.workers,
                    errors="raise", confidence=args.confidence, overlap=args.overlap, **params,
                ))  # fmt: skip
            except SegmaskError as error:
                results.append(error)
    failures = []
    for image, target, result in zip(images, targets, results, strict=True):
        if isinstance(result, Exception):
            failures.append((image, result))
            continue
        atomic_write(target, orjson.dumps(result.to_dict()))
    print(f"segmask fetch: {len(images) - len(failures)} of {len(images)} responses written to {out}")
    for image, exc in failures:
        print(f"segmask: failed: {image}: {exc}", file=sys.stderr)
    if failures:
        if all(isinstance(exc, InputError) for _, exc in failures):
            raise InputError(f"{len(failures)} images could not be used")
        raise _Failed


def _progress(results: Iterable[T], total: int, disable: bool) -> Iterable[T]:
    bar: Iterable[T] = tqdm(results, total=total, unit="file", disable=disable, desc="segmask convert")
    return bar


def cmd_convert(args: argparse.Namespace) -> None:
    """Response files (or folders of them) to COCO, COCO results, YOLO labels or PNG masks.

    Every mode converts file by file on ``--workers`` processes and writes as
    results come, in order. A file that cannot be used is named and the others
    are converted; single-file outputs appear whole or not at all.
    """
    files = response_files(args.responses)
    rule: Rule | None = args.rule
    workers = args.workers
    out = Path(args.out)
    failures: list[Failure] = []
    if args.to == "coco":
        if out.is_dir():
            raise InputError(f"--out {str(out)!r} is a folder; --to coco writes one file")
        with CocoWriter(out) as writer:
            jobs = [(f, rule, args.segmentation) for f in files]
            for record in _progress(parallel_map(coco_file, jobs, workers), len(files), args.no_progress):
                if isinstance(record, Failure):
                    failures.append(record)
                else:
                    writer.add(record)
        report = writer.report
        assert report is not None
        print(f"segmask convert: {report.images} images, {report.instances} annotations, "
              f"{len(report.categories)} categories written to {out}")  # fmt: skip
    elif args.to == "coco-results":
        if args.gt is None:
            raise InputError("--to coco-results needs --gt GT.json, for the image and category ids")
        if out.is_dir():
            raise InputError(f"--out {str(out)!r} is a folder; --to coco-results writes one file")
        image_ids, categories = ground_truth_ids(args.gt)
        missing = [f for f in files if f.image not in image_ids]
        failures += [Failure(str(f.path), f"{f.path}: {f.image!r} is not an image of {args.gt}") for f in missing]
        chosen = [f for f in files if f.image in image_ids]
        jobs2 = [(f, image_ids[f.image], categories, rule) for f in chosen]
        count = 0
        remove_stale(out.parent if str(out.parent) else ".", out.name)
        with atomic_open(out, "wb") as stream:
            stream.write(b"[")
            for part in _progress(parallel_map(results_file, jobs2, workers), len(chosen), args.no_progress):
                if isinstance(part, Failure):
                    failures.append(part)
                    continue
                for entry in part:
                    stream.write((b", " if count else b"") + orjson.dumps(entry))
                    count += 1
            stream.write(b"]\n")
        print(f"segmask convert: {count} results written to {out}")
    elif args.to == "yolo":
        folder = usable_folder(out, "--out")
        targets = output_paths([f.image for f in files], folder, label_name)
        remove_stale(folder)
        names = class_names(files, workers)
        ids = {n: k for k, n in enumerate(names)}
        counts = np.zeros(3, dtype=np.int64)
        jobs3 = [(f, t, ids, rule) for f, t in zip(files, targets, strict=True)]
        for c in _progress(parallel_map(yolo_file, jobs3, workers), len(files), args.no_progress):
            if isinstance(c, Failure):
                failures.append(c)
            else:
                counts += c
        atomic_write(folder / "classes.txt", ("\n".join(names) + "\n").encode())
        print(f"segmask convert: {len(files) - len(failures)} label files written to {folder} "
              f"({counts[0]} exact polygons, {counts[1]} approximated)")  # fmt: skip
    else:
        folder = usable_folder(out, "--out")
        targets = output_paths([f.image for f in files], folder, png_name)
        remove_stale(folder)
        lost = 0
        jobs4 = [(f, t, rule) for f, t in zip(files, targets, strict=True)]
        for n in _progress(parallel_map(png_file, jobs4, workers), len(files), args.no_progress):
            if isinstance(n, Failure):
                failures.append(n)
            else:
                lost += n
        print(f"segmask convert: {len(files) - len(failures)} PNG masks written to {folder} "
              f"({lost} overlapping pixels went to the later instance)")  # fmt: skip
    _report_failures(failures)


def cmd_eval(args: argparse.Namespace) -> None:
    """COCO metrics of predictions against ground truth; per class, confusion, and a JSON of it all."""
    pred = Path(args.pred)
    predictions: Path | list[tuple[str, Predictions]] = pred
    if pred.is_dir():
        predictions = [(f.image, read_response(f.path)) for f in response_files([pred])]
    if args.json is not None:
        usable_folder(Path(args.json).parent, "--json's folder")
    result = evaluate(args.gt, predictions, iou_type=args.iou_type, backend=args.backend)
    width = max(len(k) for k in METRICS)
    print(f"{'engine':<{width}}  {result['backend']}")
    for k in METRICS:
        print(f"{k:<{width}}  {result[k]:.4f}")
    if args.per_class:
        print("\nAP per class (IoU 0.50:0.95, all areas; -1: no ground truth):")
        name_width = max((len(n) for n in result["per_class"]), default=5)
        for name, ap in sorted(result["per_class"].items()):
            print(f"  {name:<{name_width}}  {ap:.4f}")
    if args.confusion:
        cm = confusion_matrix(args.gt, predictions, iou_type=args.iou_type, iou_threshold=args.iou_threshold)
        names = [*cm["classes"], "background"]
        cell = max(8, *(len(n) + 1 for n in names))
        print(f"\nconfusion at IoU {cm['iou_threshold']:g} (rows: ground truth, columns: predicted):")
        print(" " * cell + "".join(f"{n:>{cell}}" for n in names))
        for name, row in zip(names, cm["matrix"].tolist(), strict=True):
            print(f"{name:>{cell}}" + "".join(f"{v:>{cell}}" for v in row))
        result["confusion"] = {"classes": cm["classes"], "matrix": cm["matrix"].tolist(),
                               "iou_threshold": cm["iou_threshold"]}  # fmt: skip
    if args.json is not None:
        atomic_write(Path(args.json), orjson.dumps(result, option=orjson.OPT_INDENT_2))
        print(f"\nwritten to {args.json}")


def cmd_iou(args: argparse.Namespace) -> None:
    """The IoU matrix of two responses of one image."""
    a, b = read_response(args.a), read_response(args.b)
    if a.image_size is not None and b.image_size is not None and a.image_size != b.image_size:
        raise InputError(
            f"{args.a} is of a {a.image_size[1]}x{a.image_size[0]} image but {args.b} of "
            f"{b.image_size[1]}x{b.image_size[0]}: not one image"
        )
    size = a.image_size or b.image_size
    if size is None:
        raise InputError(f"{args.a}: the response has no image size")
    matrix = iou(a.masks(size, rule=args.rule), b.masks(size, rule=args.rule))
    print(f"IoU, rows: {args.a} ({len(a)}), columns: {args.b} ({len(b)})")
    print("      " + "".join(f"{j:>8}" for j in range(len(b))))
    for i, row in enumerate(matrix):
        print(f"{i:>5} " + "".join(f"{v:>8.4f}" for v in row))


#: Reported, but not a failure: a ring touching itself at a one-pixel tip is what cv2.findContours makes.
_HARMLESS = {"no_polygon", "self_touching"}


def cmd_validate(args: argparse.Namespace) -> None:
    """The problems of every polygon in response files; each unreadable file is named."""
    bad = noted = 0
    failures: list[Failure] = []
    for f in response_files(args.responses):
        try:
            preds = read_response(f.path)
        except SegmaskError as exc:
            failures.append(Failure(str(f.path), str(exc)))
            continue
        for check in preds.validate(rule=args.rule):
            if check.ok or set(check.problems) == {"no_polygon"}:
                continue
            harmless = set(check.problems) <= _HARMLESS
            bad += not harmless
            noted += harmless
            print(f"{f.path}: predictions[{check.index}]: {str(check).split(': ', 1)[1]}")
    print(f"segmask validate: {bad} predictions with problems, {noted} that only touch themselves (harmless)")
    _report_failures(failures)
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
    "eval": "  segmask eval --gt gt.json --pred results.json\n  segmask eval --gt gt.json --pred responses/\n"
    "  segmask eval --gt gt.json --pred results.json --per-class --confusion --json metrics.json",
    "iou": "  segmask iou model_a/photo.jpg.json model_b/photo.jpg.json",
    "validate": "  segmask validate responses/",
}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {value}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"expected seconds > 0, got {text!r}")
    return value


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        """One line and exit 2, as every other bad input (argparse prints the usage too)."""
        self.exit(2, f"segmask: error: {message} (see {self.prog} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="segmask",
        description="Instance-segmentation predictions to masks and numbers you can trust.",
        epilog="examples:\n" + "\n".join(_EXAMPLES.values()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="on a failure, show the traceback")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, epilog="examples:\n" + _EXAMPLES[name],
                           formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        p.add_argument(
            "--debug", action="store_true", default=argparse.SUPPRESS, help="on a failure, show the traceback"
        )
        return p

    p = command("demo", "run the main job on the bundled sample (no network, no key)")
    p.add_argument("--out", type=Path, default=Path("segmask-demo"), help="output folder (default: ./segmask-demo)")
    p.add_argument("--rule", choices=RULES, default="contour", help="rasterization rule (default: contour)")
    p.set_defaults(run=cmd_demo)

    p = command("fetch", "get responses from the hosted API, one JSON per image (key from ROBOFLOW_API_KEY)")
    p.add_argument("images", nargs="+", help="image files or http(s) URLs")
    p.add_argument("--model", required=True, help="project/version, e.g. your-model/42")
    p.add_argument("--out", type=Path, required=True, help="folder for the responses (the images' folders are kept)")
    p.add_argument("--confidence", type=float, default=0.4, help="a fraction in [0, 1] (default 0.4)")
    p.add_argument("--overlap", type=float, default=0.3, help="a fraction in [0, 1] (default 0.3)")
    p.add_argument("--max-detections", type=_positive_int, default=None)
    p.add_argument(
        "--tile", type=_positive_int, default=None,
        help="cut each image into overlapping tiles of this size, call per tile, merge (for large images)",
    )  # fmt: skip
    p.add_argument("--tile-overlap", type=float, default=0.2, help="the share neighbouring tiles cover (default 0.2)")
    p.add_argument("--api-url", default="https://serverless.roboflow.com")
    p.add_argument(
        "--key-in",
        choices=("query", "header"),
        default="query",
        help="send the key as the api_key query parameter (default) or an Authorization header",
    )
    p.add_argument("--workers", type=_positive_int, default=8, help="requests in flight (default 8)")
    p.add_argument("--retries", type=int, default=3)
    p.add_argument("--timeout", type=_seconds, default=60.0, help="seconds to read each whole reply (default 60)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=cmd_fetch)

    p = command("convert", "convert response files to COCO, COCO results, YOLO labels or PNG masks")
    p.add_argument("responses", nargs="+", type=Path, help="response JSON files or folders of them")
    p.add_argument("--to", required=True, choices=("coco", "coco-results", "yolo", "png"))
    p.add_argument("--out", type=Path, required=True, help="a file (coco, coco-results) or a folder (yolo, png)")
    p.add_argument("--rule", choices=RULES, default=None, help="how polygons are filled (default: contour)")
    p.add_argument("--segmentation", choices=("polygon", "rle"), default="polygon", help="for --to coco")
    p.add_argument("--gt", type=Path, default=None, help="ground truth, for --to coco-results")
    p.add_argument("--workers", type=_positive_int, default=os.cpu_count() or 1, help="processes (default: all cores)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(run=cmd_convert)

    p = command("eval", "COCO metrics of predictions against ground truth")
    p.add_argument("--gt", type=Path, required=True, help="COCO instances file")
    p.add_argument("--pred", type=Path, required=True, help="COCO results file, or a folder of responses")
    p.add_argument("--iou-type", choices=("segm", "bbox"), default="segm")
    p.add_argument("--backend", choices=("auto", *BACKENDS), default="auto", help="the engine (default: the fastest)")
    p.add_argument("--per-class", action="store_true", help="print the AP of each class")
    p.add_argument("--confusion", action="store_true", help="print the confusion matrix (background included)")
    p.add_argument("--iou-threshold", type=float, default=0.5, help="for --confusion (default 0.5)")
    p.add_argument("--json", type=Path, default=None, help="write every number to this JSON file")
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
    """Run the command line; returns the exit code."""
    args = _parser().parse_args(argv)
    try:
        args.run(args)
    except _Failed:
        return 1
    except KeyboardInterrupt:
        print("segmask: interrupted", file=sys.stderr)
        return 130
    except BaseException as exc:
        if args.debug or isinstance(exc, SystemExit):
            raise
        code, text = _one_line(exc)
        print(text, file=sys.stderr)
        return code
    return 0


def _one_line(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one line that says what went wrong."""
    if isinstance(exc, APIError):
        return 1, f"segmask: failed: {exc}"
    if isinstance(exc, SegmaskError):
        return 2, f"segmask: error: {exc}"
    if isinstance(exc, OSError):
        where = f" {exc.filename}" if exc.filename else ""
        return 2, f"segmask: error:{where}: {exc.strerror or exc}"
    if isinstance(exc, MemoryError):
        return 1, "segmask: failed: out of memory"
    if isinstance(exc, RecursionError):
        return 2, "segmask: error: the input is nested too deeply"
    first = " ".join(str(exc).split())[:200]
    return 1, f"segmask: failed: {type(exc).__name__}: {first} (run with --debug for the traceback)"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
