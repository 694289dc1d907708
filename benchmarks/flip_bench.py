"""What ``backbone.flip_views`` costs: images per second of the frozen backbone with 1, 4
and 8 views per image, side by side.

The demo's backbone (ImageNet EfficientNet-Lite0, exported from its PyPI package) at
``--size`` px on ELPV images, one batch at a time as the Evaluator and serving run it:
the plain backbone and the same backbone averaging its features over 4 and 8 views,
alternating in one process, median of ``--rounds`` with the range.  A pass over n views
runs the backbone on n x batch images, so its cost ratio is bounded by about n.
Prints the ratios and appends them to RESULTS.md.
"""

import argparse
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402

from hubtune.backbones import hub_export  # noqa: E402
from hubtune.demo import elpv  # noqa: E402
from hubtune.trainer_module import backbone as backbone_lib  # noqa: E402
from hubtune.trainer_module import preprocessing  # noqa: E402
from benchmarks.common import append_results, median  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    handle = hub_export.export_efficientnet_lite(
        os.path.join(tempfile.mkdtemp(prefix="hubtune-bench-flips-"), "lite0"))
    encoded = []
    for path, _, _ in elpv.elpv_records()[:args.images]:
        with open(path, "rb") as f:
            encoded.append(f.read())
    batches = [preprocessing.decode_images(tf.constant(encoded[i:i + args.batch_size]),
                                           args.size)
               for i in range(0, len(encoded) - args.batch_size + 1, args.batch_size)]
    layers = {views: backbone_lib.load_backbone(handle, flip_views=views)
              for views in (1, 4, 8)}
    forwards = {name: tf.function(lambda x, layer=layer: layer(x, training=False))
                for name, layer in layers.items()}

    def images_per_second(forward) -> float:
        started = time.perf_counter()
        for batch in batches:
            forward(batch).numpy()
        return len(batches) * args.batch_size / (time.perf_counter() - started)

    for forward in forwards.values():  # traced once, outside the timing
        forward(batches[0]).numpy()
    speeds = {name: [] for name in forwards}
    for _ in range(args.rounds):
        for name, forward in forwards.items():
            speeds[name].append(images_per_second(forward))
    ratios = {views: [p / f for p, f in zip(speeds[1], speeds[views])] for views in (4, 8)}
    append_results("backbone.flip_views: frozen Lite0 with 1, 4 and 8 views per image", [
        f"ImageNet EfficientNet-Lite0 at {args.size} px, {len(batches) * args.batch_size} "
        f"ELPV images in batches of {args.batch_size}, {args.rounds} alternating rounds in "
        "one process",
    ] + [f"{views} view(s): median {median(s):.1f} images/s (range {min(s):.1f}-{max(s):.1f})"
         for views, s in speeds.items()] + [
        f"{views} views cost {median(r):.2f}x per image (range {min(r):.2f}-{max(r):.2f}x; "
        f"the bound is about {views}x)" for views, r in ratios.items()])


if __name__ == "__main__":
    main()
