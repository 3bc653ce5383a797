"""What every benchmark shares: times of interleaved repeats, and peak memory in a fresh process.

Times: each contestant runs once per round, rounds repeated, the median kept;
a noisy machine slows them all alike, so the ratios hold better than the times.

Memory: each contestant runs once in a fresh ``python`` process that builds
the inputs itself (the case's own seeded setup), gives back freed memory
(``malloc_trim``), resets the kernel's high-water mark of its resident set
(``/proc/self/clear_refs``) and reports how far it rose while the contestant
ran. Nothing measured before, in this process or another, counts.

A benchmark script defines ``CASES = {name: factory}``, where ``factory()``
builds the inputs and returns ``{contestant: callable}``; ``python
benchmarks/harness.py SCRIPT CASE CONTESTANT`` is the child.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
Case = Callable[[], dict[str, Callable[[], Any]]]


def command_line(doc: str | None, quick: str) -> argparse.ArgumentParser:
    """A benchmark script's arguments: its docstring as the help, and ``--quick`` (doing what ``quick`` says)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help=quick)
    return parser


def timed(contestants: dict[str, Callable[[], Any]], repeats: int, statistic: str = "median") -> dict[str, float]:
    """Median (or with ``statistic="min"`` the best) seconds of interleaved repeats, per contestant.

    Each contestant is first called once, untimed: that takes first-call costs
    (imports, caches, the first touch of fresh memory, slow and erratic on
    virtual machines) out of every contestant's figure alike.
    """
    times: dict[str, list[float]] = {name: [] for name in contestants}
    for fn in contestants.values():
        fn()
    for _ in range(repeats):
        for name, fn in contestants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    pick = {"median": statistics.median, "min": min}[statistic]
    return {name: pick(t) for name, t in times.items()}


def peak_mb(script: str | Path, case: str, contestant: str) -> float:
    """Peak memory, in MB, of one contestant of one case, run once in a fresh process."""
    done = subprocess.run(
        [sys.executable, str(HERE / "harness.py"), str(script), case, contestant],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{case} / {contestant}: {done.stderr.strip().splitlines()[-1:]}")
    return float(done.stdout.strip().splitlines()[-1])


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def _child(script: str, case: str, contestant: str) -> None:
    spec = importlib.util.spec_from_file_location("bench_script", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(Path(script).parent))
    spec.loader.exec_module(module)
    fn = module.CASES[case]()[contestant]
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # the high-water mark starts again from here
        before = _status("VmRSS:")
        fn()
        after = _status("VmHWM:")
    except OSError:  # not Linux: the lifetime peak, a looser bound
        import resource

        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        fn()
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(max(after - before, 0) / 2**20)


def table_header() -> None:
    print("| task | segmask ms | seg. MB | peer | peer ms | peer MB | seg/peer |")
    print("|---|---:|---:|---|---:|---:|---:|")


def _ms(seconds: float) -> str:
    """Milliseconds with two decimals, or three significant digits below 0.1 ms."""
    ms = seconds * 1e3
    return f"{ms:.2f}" if ms >= 0.1 else f"{ms:.3g}"


def row(task: str, script: str | Path, case: str, times: dict[str, float], memory: bool = True) -> None:
    """One line per peer: segmask's time and memory beside the peer's, and the ratio (below 1: segmask faster)."""
    ours = times["segmask"]
    ours_mb = peak_mb(script, case, "segmask") if memory else float("nan")
    for name, t in times.items():
        if name == "segmask":
            continue
        mb = peak_mb(script, case, name) if memory else float("nan")
        print(f"| {task} | {_ms(ours)} | {ours_mb:.1f} | {name} | {_ms(t)} | {mb:.1f} | {ours / t:.2f}x |")
        sys.stdout.flush()


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _child(*sys.argv[1:4])
