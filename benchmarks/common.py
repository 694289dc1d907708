"""Shared by the benchmarks: machine info, timing helpers, appending to RESULTS.md."""

import datetime
import os
import platform
import statistics
import time
from typing import Callable, List

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")


def machine_info() -> str:
    import tensorflow as tf
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{platform.node()} | {os.cpu_count()} cores | {cpu} | Python "
            f"{platform.python_version()} | TensorFlow {tf.__version__}")


def repeat_timings(fn: Callable[[], object], repeats: int, warmup: int = 3) -> List[float]:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def median(values: List[float]) -> float:
    return statistics.median(values)


def append_results(title: str, lines: List[str]) -> None:
    stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    block = [f"\n## {title} ({stamp})", f"{machine_info()}", ""] + [f"- {l}" for l in lines]
    with open(RESULTS, "a") as f:
        f.write("\n".join(block) + "\n")
    print("\n".join(block))
