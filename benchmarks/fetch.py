"""RoboflowClient.infer_many against the local fake server with 20 ms of latency.

    python benchmarks/fetch.py            # 400 images
    python benchmarks/fetch.py --images 100

The fake server (segmask.testing.FakeRoboflowServer) runs in another process,
so the CPU time of this process is the client's own. Prints images per second
at workers = 1, 4, 8 and 16, and for a plain sequential ``requests.post``
loop, and the client's CPU time per image beside the base64 step.
"""

from __future__ import annotations

import argparse
import base64
import multiprocessing as mp
import time
from multiprocessing.connection import Connection

import cv2
import numpy as np
import requests

import segmask as sm
from segmask.testing import FakeRoboflowServer

KEY = "bench-key"
MODEL = "bench/1"


def serve(latency: float, conn: Connection) -> None:
    with FakeRoboflowServer(api_keys={KEY}, latency=latency) as server:
        conn.send(server.url)
        conn.recv()  # until told to stop


def make_images(n: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    out = []
    for _ in range(n):
        image = np.full((96, 128, 3), 40, np.uint8)
        x, y = rng.integers(0, 80, 2)
        image[y : y + 30, x : x + 40] = 200
        out.append(cv2.imencode(".png", image)[1].tobytes())
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=400)
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args()
    images = make_images(args.images)
    parent, child = mp.Pipe()
    proc = mp.get_context("fork").Process(target=serve, args=(args.latency, child), daemon=True)
    proc.start()
    url = parent.recv()
    try:
        print(f"{args.images} images ({sum(map(len, images)) / len(images) / 1024:.1f} KB PNG each), "
              f"{args.latency * 1e3:.0f} ms server latency, server in its own process\n")  # fmt: skip
        print("| client | images/s | vs workers=1 | client CPU per image (ms) |")
        print("|---|---:|---:|---:|")
        base = None
        cpu_at_8 = 0.0
        for workers in (1, 4, 8, 16):
            client = sm.RoboflowClient(api_key=KEY, api_url=url, retries=0)
            client.infer_many(images[:8], MODEL, workers=workers, progress=False)  # warm the pool
            wall, cpu = time.perf_counter(), time.process_time()
            results = client.infer_many(images, MODEL, workers=workers, progress=False)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            assert all(isinstance(r, sm.Predictions) and len(r) == 1 for r in results)
            rate = len(images) / wall
            base = base or rate
            cpu_at_8 = cpu / len(images) if workers == 8 else cpu_at_8
            print(f"| segmask infer_many, workers={workers} | {rate:8.1f} | {rate / base:5.2f}x | "
                  f"{cpu / len(images) * 1e3:6.3f} |")  # fmt: skip
            client.close()
        wall, cpu = time.perf_counter(), time.process_time()
        for raw in images:
            r = requests.post(
                f"{url}/{MODEL}",
                params={"api_key": KEY, "confidence": 40, "overlap": 30},
                data=base64.b64encode(raw),
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=30,
            )
            r.raise_for_status()
            r.json()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rate = len(images) / wall
        print(f"| plain sequential requests.post loop | {rate:8.1f} | {rate / base:5.2f}x | "
              f"{cpu / len(images) * 1e3:6.3f} |")  # fmt: skip
        t = time.process_time()
        for _ in range(20):
            for raw in images:
                base64.b64encode(raw)
        b64 = (time.process_time() - t) / (20 * len(images))
        print(f"\nbase64 step alone: {b64 * 1e3:.3f} ms per image; "
              f"client CPU per image at workers=8 beside it: {(cpu_at_8 - b64) * 1e3:.3f} ms")  # fmt: skip
    finally:
        parent.send("stop")
        proc.join(timeout=5)


if __name__ == "__main__":
    main()
