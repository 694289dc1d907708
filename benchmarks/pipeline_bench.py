"""Pipeline benchmark on the demo data: bytes, embedding throughput, where the time goes.

Runs the demo pipeline twice in a fresh work folder, with the demo's settings:
on the full ELPV data and on a 16-image subset.  A component's time on 16 images
is its fixed cost (process and Beam start-up, TF/backbone loading, SavedModel
export), so orchestration overhead = fixed cost / full-run time, per component
and in total.  Also measures transformed/raw bytes, and the Trainer's embedding
throughput against a bare ``model.predict`` on the same images.  Appends to
benchmarks/RESULTS.md.
"""

import argparse
import glob
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from hubtune import config as config_lib  # noqa: E402
from hubtune.cli import console  # noqa: E402
from hubtune.config import names  # noqa: E402
from hubtune.demo import elpv  # noqa: E402
from hubtune.runs import local_run  # noqa: E402
from hubtune.trainer_module import backbone as backbone_lib  # noqa: E402
from hubtune.trainer_module import preprocessing  # noqa: E402
from benchmarks.common import append_results  # noqa: E402

TINY = 16
TRAINER = "Trainer"


def dir_bytes(pattern: str) -> int:
    return sum(os.path.getsize(p) for p in glob.glob(pattern) if os.path.isfile(p))


def run_pipeline(workdir: str, limit, overrides) -> tuple:
    config = elpv.demo_config(workdir, limit=limit, overrides=overrides)
    log = os.path.join(config.pipeline_root, console.LOG_FILE_NAME)
    started = time.perf_counter()
    with console.quiet_console(log) as out:
        print(f"running the demo pipeline ({'all' if limit is None else limit} images) ...",
              file=out)
        outcome = local_run.run(config)
    return config, outcome, time.perf_counter() - started


def bare_predict_rate(config: config_lib.Config, split_pattern: str) -> tuple:
    """Images/s of ``model.predict`` on already decoded images (no I/O, no decoding)."""
    size = config.backbone.input_size
    spec = {names.IMAGE_XF: tf.io.FixedLenFeature([], tf.string)}
    images = np.stack([
        preprocessing.decode_image(tf.io.parse_single_example(r, spec)[names.IMAGE_XF],
                                   size).numpy()
        for r in tf.data.TFRecordDataset(sorted(glob.glob(split_pattern)), "GZIP")])
    model = keras.Sequential([keras.Input((size, size, 3)),
                              backbone_lib.load_backbone(config.backbone.handle)])
    model.predict(images[:64], batch_size=config.train.batch_size, verbose=0)  # warm up
    start = time.perf_counter()
    model.predict(images, batch_size=config.train.batch_size, verbose=0)
    return len(images) / (time.perf_counter() - start), len(images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    work = args.workdir or tempfile.mkdtemp(prefix="hubtune-bench-pipeline-")
    full_cfg, full, full_s = run_pipeline(os.path.join(work, "full"), None, args.set)
    _, tiny, tiny_s = run_pipeline(os.path.join(work, "tiny"), TINY,
                                   args.set + ["eval.min_accuracy=0"])
    root = full_cfg.pipeline_root

    # Transform writes the train split only (the eval split is the Evaluator's alone).
    raw = dir_bytes(f"{root}/ImportExampleGen/examples/*/Split-train/*")
    transformed = dir_bytes(f"{root}/Transform/transformed_examples/*/Split-train/*")

    history = json.load(open(os.path.join(full.uris[f"{TRAINER}/ModelRun"],
                                          names.TRAINING_HISTORY_FILE)))
    embedding = history["embedding"]
    in_pipeline = embedding["embedded"] / embedding["seconds"]
    train_files = f"{root}/Transform/transformed_examples/*/Split-train/*"
    bare, n_bare = bare_predict_rate(full_cfg, train_files)

    fixed = {c.node_id: c.seconds for c in tiny.components}
    rows, total, overhead = [], 0.0, 0.0
    for c in full.components:
        cost = min(fixed.get(c.node_id, 0.0), c.seconds)
        total += c.seconds
        overhead += cost
        rows.append(f"  {c.node_id}: {c.seconds:.1f} s, of which fixed {cost:.1f} s "
                    f"({cost / c.seconds:.0%})" if c.seconds >= 0.5 else
                    f"  {c.node_id}: {c.seconds:.1f} s")
    append_results("Demo pipeline: bytes, embedding throughput, orchestration overhead", [
        f"full demo run {full_s:.0f} s wall ({len(full.components)} nodes), 16-image run "
        f"{tiny_s:.0f} s; accuracy {full.accuracy:.4f}",
        f"transformed / raw bytes: {transformed / raw:.2f}x ({transformed:,} / {raw:,}; "
        "goal <= 1.5x)",
        f"embedding throughput in the pipeline / bare model.predict: {in_pipeline / bare:.2f} "
        f"({in_pipeline:.1f} vs {bare:.1f} images/s at {full_cfg.backbone.input_size} px; the "
        f"pipeline reads and decodes PNGs too; bare predict on {n_bare} decoded images; goal "
        ">= 0.9)",
        f"orchestration overhead (fixed per-component cost, measured on {TINY} images) / "
        f"component time: {overhead / total:.0%} ({overhead:.1f} of {total:.1f} s; goal <= 25%)",
        "per component (ML Metadata):",
    ] + rows)


if __name__ == "__main__":
    main()
