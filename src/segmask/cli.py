"""The ``segmask`` command line (also ``python -m segmask``).

Commands wrap the public functions; errors print one line to stderr and exit
with 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from .draw import draw
from .errors import SegmaskError
from .exports import _write_bytes
from .ops import iou
from .predictions import Predictions
from .raster import RULES, Rule

__all__ = ["main"]

_EPILOG_DEMO = """examples:
  segmask demo                    # writes ./segmask-demo/masks.json and overlay.png
  segmask demo --out /tmp/demo --rule coco
"""


def demo(out: Path, rule: Rule) -> int:
    """Parse the bundled response, rasterize it, print a table and IoUs, write RLE JSON and an overlay."""
    data = resources.files("segmask") / "data"
    response = data / "sample_response.json"
    preds = Predictions.from_response(response.read_bytes())
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
    touching = np.flatnonzero((matrix > 0).any(axis=1))
    print()
    if touching.size:
        print("IoU of the instances that overlap:")
        print("     " + "".join(f"{j:>8}" for j in touching.tolist()))
        for i in touching.tolist():
            row = "".join(f"{matrix[i, j]:>8.4f}" if i != j else f"{'-':>8}" for j in touching.tolist())
            print(f"{i:>5}{row}")
    else:
        print("No instances overlap.")
    out.mkdir(parents=True, exist_ok=True)
    columns = (preds.class_name, preds.confidence, masks.area, masks.boxes.tolist(), masks.to_rle())
    records = [
        {"class": str(c), "confidence": float(s), "area": int(a), "bbox": b, "segmentation": r}
        for c, s, a, b, r in zip(*columns, strict=True)
    ]
    _write_bytes(out / "masks.json", json.dumps(records, indent=1).encode())
    image: np.ndarray | None = cv2.imdecode(
        np.frombuffer((data / "sample.png").read_bytes(), np.uint8), cv2.IMREAD_COLOR
    )
    if image is None:
        raise SegmaskError("the bundled sample.png could not be read: the installation is damaged")
    _, png = cv2.imencode(".png", draw(image, preds))
    _write_bytes(out / "overlay.png", png.tobytes())
    print()
    print(f"Wrote {out / 'masks.json'} ({len(records)} COCO RLE masks) and {out / 'overlay.png'}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="segmask", description="Instance-segmentation predictions to masks and numbers you can trust."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser(
        "demo",
        help="run the main job on the bundled sample (no network, no key)",
        description="Parse the bundled response, rasterize it, print a table and the IoU of overlapping "
        "instances, and write the masks as COCO RLE JSON and an overlay PNG.",
        epilog=_EPILOG_DEMO,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", type=Path, default=Path("segmask-demo"), help="output folder (default: ./segmask-demo)")
    p.add_argument("--rule", choices=RULES, default="contour", help="rasterization rule (default: contour)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "demo":
            return demo(args.out, args.rule)
    except SegmaskError as exc:
        print(f"segmask: error: {exc}", file=sys.stderr)
        return 2
    return 1  # pragma: no cover - argparse rejects unknown commands


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
