"""Serving benchmark: REST/gRPC latency and throughput, and the cost of in-graph preprocessing.

Serves the demo's pushed model (run `make demo` first) or, without it, a model
exported here on the demo's EfficientNet-Lite0 backbone.  Prints ratios measured
side by side in this run and appends them to benchmarks/RESULTS.md.
"""

import argparse
import concurrent.futures
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from hubtune.config import names  # noqa: E402
from hubtune.serving.client import GrpcClient, RestClient  # noqa: E402
from hubtune.serving.inspect_model import resolve_model_dir  # noqa: E402
from hubtune.serving.server import LocalModelServer  # noqa: E402
from hubtune.trainer_module import preprocessing  # noqa: E402
from benchmarks.common import append_results, median, percentile, repeat_timings  # noqa: E402

DEMO_MODEL = os.path.join("hubtune_demo", "serving", "elpv")
MODEL_NAME = "bench"


def model_base_path(work: str) -> str:
    """The demo's pushed model base path, or one built here (same backbone and size)."""
    if os.path.isdir(DEMO_MODEL) and any(n.isdigit() for n in os.listdir(DEMO_MODEL)):
        return os.path.abspath(DEMO_MODEL)
    from tests.conftest import export_serving_version, png_bytes, random_images
    from hubtune.backbones import hub_export
    bb = hub_export.export_efficientnet_lite(os.path.join(work, "lite0"))
    images = [png_bytes(im) for im in random_images(8, size=300, channels=1)]
    base = os.path.join(work, "models")
    export_serving_version(os.path.join(work, "transform"), bb, os.path.join(base, "1"), 0,
                           images, [b"a", b"b"] * 4, size=160)
    return base


def sample_images(n: int):
    from hubtune.demo import elpv
    rows = elpv.elpv_records()[:n]
    return [open(path, "rb").read() for path, _, _ in rows]


def preprocessing_overhead(model_dir: str, images, batch: int, repeats: int) -> tuple:
    loaded = tf.saved_model.load(model_dir)
    serve = loaded.signatures[names.SERVING_IMAGES_SIGNATURE]
    encoded = tf.constant((images * batch)[:batch])
    size = int(loaded.input_size.numpy())
    decoded = preprocessing.decode_images(encoded, size)
    bare = tf.function(lambda x: loaded.classifier(x, training=False))
    t_serve = median(repeat_timings(lambda: serve(images=encoded), repeats))
    t_bare = median(repeat_timings(lambda: bare(decoded), repeats))
    return t_serve, t_bare


def latency(predict, images, count: int):
    times = repeat_timings(lambda: predict([images[0]]), count, warmup=5)
    return percentile(times, 50), percentile(times, 99)


def throughput(predict, images, concurrency: int, seconds: float) -> float:
    deadline = time.time() + seconds

    def worker(i):
        n = 0
        while time.time() < deadline:
            predict([images[(i + n) % len(images)]])
            n += 1
        return n

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        done = sum(pool.map(worker, range(concurrency)))
    return done / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    images = sample_images(16)
    with tempfile.TemporaryDirectory() as work:
        base = model_base_path(work)
        model_dir = resolve_model_dir(base)
        lines = [f"model: {model_dir}"]
        for batch in (1, 32):
            t_serve, t_bare = preprocessing_overhead(model_dir, images, batch, args.repeats)
            lines.append(f"in-graph preprocessing, batch {batch}: serving_images on encoded "
                         f"bytes {t_serve * 1000:.1f} ms vs bare Keras model on preprocessed "
                         f"tensors {t_bare * 1000:.1f} ms: overhead "
                         f"{(t_serve / t_bare - 1) * 100:+.1f}% (target <= 10%)")
        with LocalModelServer(MODEL_NAME, base, rest_port=0, grpc_port=0) as server:
            rest = RestClient(f"http://127.0.0.1:{server.rest_port}", MODEL_NAME)
            grpc_client = GrpcClient(f"127.0.0.1:{server.grpc_port}", MODEL_NAME)
            for name, client in (("REST", rest), ("gRPC", grpc_client)):
                p50, p99 = latency(client.predict_images, images, args.requests)
                lines.append(f"{name} single-image latency: p50 {p50 * 1000:.1f} ms, "
                             f"p99 {p99 * 1000:.1f} ms ({args.requests} requests)")
                rates = {c: throughput(client.predict_images, images, c, args.seconds)
                         for c in (1, 8)}
                lines.append(f"{name} throughput: {rates[1]:.1f} req/s at concurrency 1, "
                             f"{rates[8]:.1f} req/s at concurrency 8 "
                             f"({rates[8] / rates[1]:.2f}x)")
            grpc_client.close()
    append_results("serving benchmark", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
