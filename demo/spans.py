"""``hubtune demo --spans N``: the demo data arriving in N spans, one retraining run per span.

Each span is a stratified slice of the ELPV train and eval images, written to
``<workdir>/data-spans/span-<k>/{train,eval}/`` just before its run, so the
pipeline's ``{SPAN}`` pattern picks up the newest one as a scheduler would.
"""

import dataclasses
import os
from typing import List, Optional

from hubtune import config as config_lib
from hubtune.demo import elpv
from hubtune.runs import mlmd


@dataclasses.dataclass
class SpanRun:
    span: int
    accuracy: Optional[float]
    baseline_accuracy: Optional[float]
    blessed: Optional[bool]
    pushed_version: Optional[str]


def span_folder(data_dir: str, span: int) -> str:
    return os.path.join(data_dir, f"span-{span}")


def write_span(data_dir: str, span: int, train_rows, eval_rows) -> None:
    """One span's train and eval TFRecords (each written atomically)."""
    for split, rows in (("train", train_rows), ("eval", eval_rows)):
        folder = os.path.join(span_folder(data_dir, span), split)
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"elpv-{split}.tfrecord")
        if not os.path.exists(path):
            elpv.write_tfrecord(path, rows)


def slices(rows: list, n: int) -> List[list]:
    """``n`` interleaved slices (each keeps the stratified mix of the whole)."""
    return [rows[i::n] for i in range(n)]


def spans_config(workdir: str, data_dir: str, overrides=()) -> config_lib.Config:
    """The demo config reading ``span-{SPAN}`` folders (span 1 must already exist)."""
    pattern = os.path.join(data_dir, "span-" + config_lib.SPAN)
    return elpv.demo_config(workdir, overrides=overrides, data_folders={
        "train": os.path.join(pattern, "train"), "eval": os.path.join(pattern, "eval")})


def run_spans(workdir: str, n_spans: int, limit: Optional[int], overrides, run,
              out) -> List[SpanRun]:
    """Writes span k, runs the pipeline (``run(config)`` -> RunOutcome), for k = 1..n."""
    data_dir = os.path.join(os.path.abspath(workdir), "data-spans")
    train, evaluation = elpv.stratified_split(elpv.elpv_records(), limit)
    results = []
    for k, (train_rows, eval_rows) in enumerate(zip(slices(train, n_spans),
                                                    slices(evaluation, n_spans)), start=1):
        write_span(data_dir, k, train_rows, eval_rows)
        print(f"\nspan {k} arrived: {len(train_rows)} train / {len(eval_rows)} eval images",
              file=out)
        config = spans_config(workdir, data_dir, overrides)
        outcome: mlmd.RunOutcome = run(config)
        results.append(SpanRun(k, outcome.accuracy, outcome.baseline_accuracy, outcome.blessed,
                               outcome.pushed_version))
    return results


def format_table(results: List[SpanRun]) -> str:
    lines = ["span  accuracy  baseline  blessed  pushed version"]
    for r in results:
        acc = "-" if r.accuracy is None else f"{r.accuracy:.4f}"
        base = "-" if r.baseline_accuracy is None else f"{r.baseline_accuracy:.4f}"
        blessed = {True: "yes", False: "no", None: "-"}[r.blessed]
        lines.append(f"{r.span:>4}  {acc:>8}  {base:>8}  {blessed:>7}  {r.pushed_version or '-'}")
    return "\n".join(lines)
