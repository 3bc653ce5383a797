"""Response files to one COCO JSON: segmask convert beside a supervision + pycocotools script.

    python benchmarks/convert.py                 # 10,000 files for segmask, 1,000 for the script
    python benchmarks/convert.py --files 2000 --baseline-files 200
    python benchmarks/convert.py --compare-python OLD/bin/python   # and an earlier segmask, same files

Each generated response has about 10 instances on 1920x1080 (star polygons,
20-300 vertices, integer points as the API sends them). segmask runs as
``segmask convert DIR --to coco --workers N`` in its own process; the
baseline script (also in its own process) does what people write today:
``sv.Detections.from_inference`` (dense masks), pycocotools ``encode`` per
mask, one ``json.dump`` at the end. ``--compare-python`` runs the same
``segmask convert`` commands with another interpreter (an environment where
an earlier segmask is installed, e.g. ``pip install git+...@COMMIT``), so a
change is measured against what it replaces on the same files. Peak memory is the peak resident set of
the process (of the largest worker for segmask's pool), so a flat figure
across dataset sizes means memory does not grow with the number of files.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

W, H = 1920, 1080

BASELINE = textwrap.dedent("""
    import json, sys
    from pathlib import Path
    import numpy as np
    import supervision as sv
    from pycocotools import mask as pcm

    src, out = Path(sys.argv[1]), sys.argv[2]
    images, annotations, names = [], [], {}
    for k, path in enumerate(sorted(src.glob("*.json"))):
        response = json.loads(path.read_text())
        det = sv.Detections.from_inference(response)
        images.append({"id": k + 1, "file_name": path.name[:-5], "height": 1080, "width": 1920})
        for mask, name in zip(det.mask, det.data["class_name"]):
            rle = pcm.encode(np.asfortranarray(mask.astype(np.uint8)))
            annotations.append({"id": len(annotations) + 1, "image_id": k + 1,
                                "category_id": names.setdefault(str(name), len(names) + 1),
                                "segmentation": {"size": rle["size"], "counts": rle["counts"].decode()},
                                "area": int(pcm.area(rle)), "bbox": pcm.toBbox(rle).tolist(), "iscrowd": 0})
    categories = [{"id": i, "name": n} for n, i in names.items()]
    json.dump({"images": images, "annotations": annotations, "categories": categories}, open(out, "w"))
""")


def make_responses(folder: Path, n: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for f in range(n):
        predictions = []
        for i in range(int(rng.integers(8, 13))):
            k = int(rng.integers(20, 301))
            c = rng.uniform([160, 160], [W - 160, H - 160])
            r = rng.uniform(20, 150) * rng.uniform(0.4, 1.0, k)
            a = np.sort(rng.uniform(0, 2 * np.pi, k))
            pts = np.round(np.stack([c[0] + r * np.cos(a), c[1] + r * np.sin(a)], axis=1)).astype(int)
            lo, hi = pts.min(axis=0), pts.max(axis=0)
            predictions.append({
                "x": float(lo[0] + hi[0]) / 2, "y": float(lo[1] + hi[1]) / 2,
                "width": float(hi[0] - lo[0]), "height": float(hi[1] - lo[1]),
                "confidence": round(float(rng.uniform(0.3, 1)), 3), "class": f"class{i % 4}", "class_id": i % 4,
                "detection_id": f"{f}-{i}", "points": [{"x": int(x), "y": int(y)} for x, y in pts],
            })  # fmt: skip
        response = {"predictions": predictions, "image": {"width": W, "height": H}}
        (folder / f"image{f:05d}.jpg.json").write_text(json.dumps(response))


# A fresh wrapper per command: RUSAGE_CHILDREN then holds the peak RSS of the
# largest process of that command alone (its pool workers included).
WRAP = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def run(argv: list[str]) -> tuple[float, float]:
    """Wall seconds and the peak RSS (MB) of the largest process of the command."""
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", WRAP, *argv], check=True, capture_output=True, text=True)
    return time.perf_counter() - t, int(done.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--baseline-files", type=int, default=1_000)
    parser.add_argument("--compare-python", help="a python with an earlier segmask installed, run on the same files")
    args = parser.parse_args()
    pythons = {"segmask": sys.executable}
    if args.compare_python:
        pythons["earlier segmask"] = args.compare_python
    work = Path(tempfile.mkdtemp(prefix="segmask-bench-"))
    try:
        small, big = work / "small", work / "big"
        t = time.perf_counter()
        make_responses(big, args.files)
        make_responses(small, args.baseline_files)
        print(f"generated {args.files} + {args.baseline_files} responses in {time.perf_counter() - t:.0f} s\n")
        print("| converter | files | workers | files/s | peak MB |")
        print("|---|---:|---:|---:|---:|")
        rates: dict[object, float] = {}
        wall, mb = run([sys.executable, "-c", BASELINE, str(small), str(work / "baseline.json")])
        rates["baseline"] = args.baseline_files / wall
        print(f"| sv.Detections.from_inference + pycocotools encode | {args.baseline_files} | 1 | "
              f"{rates['baseline']:.1f} | {mb:.0f} |")  # fmt: skip
        for who, python in pythons.items():
            for mode in ("rle", "polygon"):
                for folder, n in ((small, args.baseline_files), (big, args.files)):
                    for workers in (1, 2):
                        out = work / f"coco-{mode}-{n}-{workers}-{len(rates)}.json"
                        cmd = [python, "-m", "segmask", "convert", str(folder), "--to", "coco", "--out", str(out),
                               "--workers", str(workers), "--segmentation", mode, "--no-progress"]  # fmt: skip
                        wall, mb = run(cmd)
                        rates[(who, mode, n, workers)] = n / wall
                        print(f"| {who} convert --segmentation {mode} | {n} | {workers} | {n / wall:.1f} | {mb:.0f} |")
        for mode in ("rle", "polygon"):
            one, two = rates[("segmask", mode, args.files, 1)], rates[("segmask", mode, args.files, 2)]
            print(f"\n{mode}: segmask on 1 worker is {one / rates['baseline']:.1f}x the script's files/s; "
                  f"2 workers are {two / one:.2f}x 1 worker")  # fmt: skip
            if args.compare_python:
                for workers in (1, 2):
                    old = rates[("earlier segmask", mode, args.files, workers)]
                    now = rates[("segmask", mode, args.files, workers)]
                    print(f"{mode}, {workers} worker(s): {now / old:.2f}x the earlier segmask's files/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
