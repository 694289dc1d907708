"""Tuner benchmark: head trials per minute on cached embeddings vs the backbone in the graph.

hubtune's Tuner embeds each image once per candidate backbone, then every trial trains
a head on the cached arrays (``tuner.CachedEmbeddingTuner``, the class the TFX Tuner
runs).  The TFX CIFAR-10 example's way keeps the frozen backbone inside the Keras
model, so every trial runs it on every image every epoch.  Both paths here run the
same trials (the cached search's sampled settings, replayed in the other path), on
the same ELPV fit/validation images from the train split, with the same fixed epoch
count (no early stopping), each in a fresh process, alternating: in-graph, cached,
in-graph, ...  The cached path's time includes embedding.  Prints the median ratio
with its range and appends it to benchmarks/RESULTS.md.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import types

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras_tuner  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from hubtune.backbones import hub_export  # noqa: E402
from hubtune.trainer_module import backbone as backbone_lib  # noqa: E402
from hubtune.trainer_module import (feature_extraction, hyperparameters, losses, model,  # noqa: E402
                                    phases, tuner as tuner_lib)
from benchmarks.common import append_results, median  # noqa: E402
from benchmarks.head_bench import elpv_images  # noqa: E402
from tests.conftest import make_config  # noqa: E402

RESULT_PREFIX = "TUNE_BENCH_RESULT "
CLASS_NAMES = ["functional", "defective"]


def bench_config(args):
    """Fixed epochs: patience equals the epoch cap, so both paths run every epoch."""
    return make_config(backbone={"handle": args.handle, "input_size": args.size},
                       train={"batch_size": args.batch_size, "head_epochs": args.epochs,
                              "head_patience": args.epochs},
                       tune={"max_trials": args.trials})


def fit_and_validation(args):
    """Fit and validation images, both from ELPV's train split (the eval split is not read)."""
    (images, labels), _ = elpv_images(args.fit + args.validation, 1, args.size)
    return (images[:args.fit], labels[:args.fit]), (images[args.fit:], labels[args.fit:])


def cached_trials(args, fit, validation) -> dict:
    """The real Tuner class: embed once, then ``max_trials`` head trials on the arrays."""
    config = bench_config(args)
    backbone = backbone_lib.load_backbone(args.handle)
    started = time.perf_counter()
    features = tuple(feature_extraction.embed(backbone, tf.data.Dataset.from_tensor_slices(split)
                                              .batch(args.batch_size).prefetch(2))
                     for split in (fit, validation))  # ((x, y) fit, (x, y) validation)
    embed_seconds = time.perf_counter() - started
    space = keras_tuner.HyperParameters()
    hyperparameters.define_search_space(space, config.tune, [args.handle])
    oracle = keras_tuner.oracles.RandomSearchOracle(
        objective=keras_tuner.Objective(tuner_lib.OBJECTIVE, "min"), max_trials=args.trials,
        hyperparameters=space, allow_new_entries=False, seed=config.train.seed)
    tuner = tuner_lib.CachedEmbeddingTuner(
        oracle, config, types.SimpleNamespace(class_names=CLASS_NAMES),
        [tuner_lib.Candidate(config.backbone, features)],
        directory=tempfile.mkdtemp(prefix="hubtune-bench-tune-"), project_name="bench")
    tuner.search()
    seconds = time.perf_counter() - started
    rows = [r for r in tuner.trial_table if r["status"] == "completed"]
    if len(rows) != args.trials:
        raise RuntimeError(f"{len(rows)} of {args.trials} trials completed: {tuner.trial_table}")
    return {"seconds": seconds, "embed_seconds": embed_seconds,
            "settings": [dict(r["settings"], **{hyperparameters.BACKBONE: args.handle})
                         for r in rows],
            "epochs": [r["epochs"] for r in rows], "val_loss": [r["val_loss"] for r in rows]}


def in_graph_trials(args, fit, validation, settings) -> dict:
    """The same trials with the frozen backbone in the model: Keras fit on images."""
    config = bench_config(args)
    backbone = backbone_lib.load_backbone(args.handle)
    fit_ds = tf.data.Dataset.from_tensor_slices(fit).shuffle(len(fit[1]), seed=0) \
        .batch(args.batch_size).prefetch(2)
    validation_ds = tf.data.Dataset.from_tensor_slices(validation).batch(args.batch_size)
    logs = tempfile.mkdtemp(prefix="hubtune-bench-tune-logs-")
    started, epochs, val_loss = time.perf_counter(), [], []
    for values in settings:
        trial = hyperparameters.apply(config, values)
        keras.utils.set_random_seed(trial.train.seed)
        head = model.build_head(model.feature_dim(backbone, args.size), 2, trial.head)
        classifier = model.build_classifier(backbone, head, args.size)
        objective = losses.objective_for(fit[1], 2, trial.train.class_weights,
                                         trial.train.label_smoothing)
        result = phases.fit_phase("in_graph", classifier, head.trainable_variables,
                                  trial.train.head_learning_rate, args.epochs, fit_ds,
                                  validation_ds, logs, args.epochs, objective)
        epochs.append(result.epochs_run)
        val_loss.append(min(result.history["val_loss"]))
    return {"seconds": time.perf_counter() - started, "epochs": epochs, "val_loss": val_loss}


def measure(args) -> dict:
    fit, validation = fit_and_validation(args)
    if args.only == "cached":
        return cached_trials(args, fit, validation)
    return in_graph_trials(args, fit, validation, json.loads(args.settings))


def run_path(path: str, handle: str, args, settings=None) -> dict:
    command = [sys.executable, __file__, "--only", path, "--handle", handle]
    for flag in ("fit", "validation", "size", "epochs", "trials", "batch_size"):
        command += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    if settings is not None:
        command += ["--settings", json.dumps(settings)]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(out.split(RESULT_PREFIX, 1)[1].splitlines()[0])


def per_minute(run: dict, trials: int) -> float:
    return trials / (run["seconds"] / 60)


def report(args, cached: list, graph: list) -> None:
    ratios = [per_minute(c, args.trials) / per_minute(g, args.trials)
              for c, g in zip(cached, graph)]
    embed = median([c["embed_seconds"] for c in cached])
    append_results("Tuner trials: cached embeddings vs backbone in the training graph", [
        f"EfficientNet-Lite0 (ImageNet) at {args.size} px; {args.fit} fit + {args.validation} "
        f"validation ELPV images (train split); {args.trials} trials of the search space, "
        f"{args.epochs} epochs each (no early stopping), batch {args.batch_size}; each path in "
        f"a fresh process, {len(cached)} alternating rounds (in-graph first)",
        f"trials per minute: cached {median([per_minute(c, args.trials) for c in cached]):.1f} "
        f"(embedding once: median {embed:.1f} s of it), in-graph "
        f"{median([per_minute(g, args.trials) for g in graph]):.2f}",
        f"speedup: median {median(ratios):.1f}x (range {min(ratios):.1f}-{max(ratios):.1f}x "
        f"over the rounds: {', '.join(f'{r:.1f}' for r in ratios)})",
        f"bound (backbone passes saved): {args.trials * args.epochs}x = trials x epochs",
        "same trials in both paths: epochs run "
        f"{cached[0]['epochs']} cached vs {graph[0]['epochs']} in-graph; best validation "
        f"loss per trial cached {[round(v, 3) for v in cached[0]['val_loss']]} vs in-graph "
        f"{[round(v, 3) for v in graph[0]['val_loss']]}",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fit", type=int, default=128)
    parser.add_argument("--validation", type=int, default=64)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--trials", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("cached", "in-graph"), help=argparse.SUPPRESS)
    parser.add_argument("--handle", help=argparse.SUPPRESS)
    parser.add_argument("--settings", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.only:
        print(RESULT_PREFIX + json.dumps(measure(args)))
        return
    handle = hub_export.export_efficientnet_lite(
        os.path.join(tempfile.mkdtemp(prefix="hubtune-bench-tune-"), "lite0"))
    # The trials' settings come from the seeded search; a first cached run samples them.
    settings = run_path("cached", handle, args)["settings"]
    cached, graph = [], []
    for round_ in range(args.rounds):
        graph.append(run_path("in-graph", handle, args, settings))
        cached.append(run_path("cached", handle, args))
        assert cached[-1]["settings"] == settings, "the seeded search sampled other trials"
        print(f"round {round_ + 1}: in-graph {graph[-1]['seconds']:.1f} s, cached "
              f"{cached[-1]['seconds']:.1f} s for {args.trials} trials", flush=True)
    report(args, cached, graph)


if __name__ == "__main__":
    main()
