"""TFLite benchmark (`make bench-tflite`): size, accuracy and latency of each variant.

On the demo's pushed model (run `make demo` first) and the ELPV test split: for float32
(unoptimised, the reference), float16, dynamic and int8, the file size, eval accuracy and
its drop against the SavedModel on the same uint8 pixels, and single-image latency p50/p99
with 1 and 2 interpreter threads in TF's tf.lite.Interpreter and LiteRT's
(ai-edge-litert); plus the SavedModel's in-process latency on the same tensor.  Latencies
are the median of 3 alternating rounds (range in brackets).  Appends to RESULTS.md.
"""

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from hubtune.edge import interpreter, tflite_export  # noqa: E402
from hubtune.serving import model_store  # noqa: E402
from benchmarks.common import append_results, median, percentile  # noqa: E402

DEMO_MODEL = os.path.join("hubtune_demo", "serving", "elpv")
ORDER = ("float32", "float16", "dynamic", "int8")
ROUNDS = 3


def test_split(size: int):
    """(uint8 pixels, class names per image) of the demo's ELPV test split."""
    from hubtune.demo import elpv
    from hubtune import config as config_lib
    config = config_lib.load(os.path.join("hubtune_demo", "demo-config.yaml"))
    records = [r.numpy() for r in tf.data.TFRecordDataset(
        config_lib.data_files(config.data.eval, "tfrecord"))]
    calibration = [r.numpy() for r in tf.data.TFRecordDataset(
        config_lib.data_files(config.data.train, "tfrecord")).shuffle(2000, seed=42).take(200)]
    del elpv
    return records, calibration, config.data


def saved_model_ms(model, image: np.ndarray, repeats: int):
    fn = tf.function(lambda x: model.loaded.classifier(tf.cast(x, tf.float32) / 255.0,
                                                       training=False))
    x = tf.constant(image[np.newaxis])
    for _ in range(5):
        fn(x)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(x).numpy()
        times.append((time.perf_counter() - start) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()
    if not os.path.isdir(DEMO_MODEL):
        print("run `make demo` first: the benchmark measures the demo's model", file=sys.stderr)
        return 2
    model_dir = max(model_store.version_dirs(DEMO_MODEL).items())[1]
    model = tflite_export.HubtuneModel(model_dir)
    records, calibration_records, data = test_split(model.input_size)
    pixels = tflite_export.pixels_from_records(records, data, model.input_size)
    labels = tflite_export.labels_of(records, data.label_key, model.class_names)
    calibration = tflite_export.pixels_from_records(calibration_records, data, model.input_size)
    reference = model.scores(pixels)
    saved_accuracy = float(np.mean(reference.argmax(-1) == labels))
    contents = {v: tflite_export.convert(model, v, calibration) for v in ORDER}
    accuracy = {}
    for v in ORDER:
        scores = interpreter.classify(interpreter.make_interpreter(contents[v]), pixels)
        accuracy[v] = float(np.mean(scores.argmax(-1) == labels))
    keys = [(v, rt, th) for v in ORDER for rt in interpreter.RUNTIMES for th in (1, 2)]
    rounds = {k: [] for k in keys + ["savedmodel"]}
    for _ in range(ROUNDS):  # alternating: every configuration once per round
        for v, rt, th in keys:
            runner = interpreter.make_interpreter(contents[v], num_threads=th, runtime=rt)
            rounds[(v, rt, th)].append(interpreter.latencies_ms(runner, pixels[0], args.repeats))
        rounds["savedmodel"].append(saved_model_ms(model, pixels[0], args.repeats))

    def p50(key):
        values = [percentile(r, 50) for r in rounds[key]]
        return f"{median(values):.2f} ms [{min(values):.2f}-{max(values):.2f}]"

    def p99(key):
        return f"{median([percentile(r, 99) for r in rounds[key]]):.2f} ms"

    lines = [f"model {model_dir} (input {model.input_size} px), ELPV test split "
             f"{len(pixels)} images; SavedModel accuracy on the same uint8 pixels "
             f"{saved_accuracy:.4f}; SavedModel in-process latency p50 {p50('savedmodel')}"]
    for v in ORDER:
        size = len(contents[v]) / 1e6
        lines.append(
            f"{v}: {size:.2f} MB ({len(contents[v]) / len(contents['float32']):.0%} of float32), "
            f"accuracy {accuracy[v]:.4f} (drop {saved_accuracy - accuracy[v]:+.4f}); "
            + "; ".join(f"{rt} {th} thread{'s' if th > 1 else ''} p50 {p50((v, rt, th))} "
                        f"p99 {p99((v, rt, th))}"
                        for rt in interpreter.RUNTIMES for th in (1, 2)))
    ratio = lambda a, b: median([percentile(x, 50) / percentile(y, 50)  # noqa: E731
                                 for x, y in zip(rounds[a], rounds[b])])
    speedup = {rt: ratio(("float32", rt, 2), ("int8", rt, 2)) for rt in interpreter.RUNTIMES}
    lines.append("int8 speed-up over float32 TFLite, 2 threads: "
                 + ", ".join(f"{rt} {x:.2f}x" for rt, x in speedup.items()))
    lines.append(f"TFLite float32 (tf, 2 threads) / SavedModel in-process latency: "
                 f"{ratio(('float32', 'tf', 2), 'savedmodel'):.2f}")
    append_results("TFLite variants (make bench-tflite)", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
