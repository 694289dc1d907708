"""``hubtune demo``: the demo run end to end, printed for a person.

``run_demo`` prepares the ELPV data and the EfficientNet-Lite0 backbone, runs the
pipeline, shows what transfer bought (the same head on a randomly initialised
backbone) and ends by serving the pushed model and classifying a few eval images
over REST and gRPC.  ``run_spans_demo`` lets the data arrive in spans instead.
"""

import dataclasses
import os
import time
from typing import List, Tuple

from hubtune import config as config_lib
from hubtune.demo import elpv, spans, transfer_comparison
from hubtune.runs import local_run, mlmd, run_details, status
from hubtune.serving import deployment
from hubtune.serving.client import GrpcClient, RestClient
from hubtune.serving.server import LocalModelServer
from hubtune.trainer_module import hyperparameters

SERVED_EXAMPLES = 6


def run_and_print(config: config_lib.Config, out) -> mlmd.RunOutcome:
    """One local pipeline run, with its summary printed."""
    outcome = local_run.run(config)
    print("\n" + "\n".join(status.outcome_lines(outcome, config.serving_model_dir)), file=out)
    return outcome


def run_demo(workdir: str, limit, overrides, out, budget: str = None) -> None:
    started = time.time()
    print("preparing the ELPV data and the EfficientNet-Lite backbones ...", file=out)
    config = elpv.demo_config(workdir, limit=limit, overrides=overrides, budget=budget)
    config_path = os.path.join(workdir, "demo-config.yaml")
    elpv.write_config(config, config_path)
    t = config.train
    size = ("each candidate's size" if config.tune.backbones else
            f"{config.backbone.input_size}x{config.backbone.input_size}")
    print(f"input {size}, batch {t.batch_size}, head epochs {t.head_epochs}, fine-tune epochs "
          f"{t.finetune_epochs} (top {t.finetune_fraction:.0%} of the backbone); "
          f"config: {config_path}", file=out)
    if config.tune.enabled:
        sizes = ", ".join(f"{os.path.basename(c.handle)} at {c.input_size} px"
                          + (f" ({c.flip_views} views)" if c.flip_views > 1 else "")
                          for c in hyperparameters.candidates(config))
        print(f"Tuner ({budget} budget): {config.tune.trials} trials on cached embeddings of "
              f"{sizes}", file=out)
    outcome = run_and_print(config, out)
    _print_transfer_comparison(config, workdir, outcome, out)
    if outcome.pushed_path:
        serve_and_classify(config, elpv.eval_images(config, SERVED_EXAMPLES), workdir, out)
    print(f"\ndemo finished in {time.time() - started:.0f} s", file=out)


def _print_transfer_comparison(config: config_lib.Config, workdir: str,
                               outcome: mlmd.RunOutcome, out) -> None:
    print("\nwhat transfer bought (the head only, on frozen backbone features from the "
          "embedding cache):", file=out)
    candidates = transfer_comparison.candidate_configs(config, outcome)
    winner = hyperparameters.apply(config, outcome.tuned)
    random_handle = elpv.prepare_backbone(
        os.path.join(workdir, "backbones", "efficientnet_lite0_random"), weights="random")
    candidates[f"randomly initialised Lite0 at {winner.backbone.input_size} px"] = \
        dataclasses.replace(winner, backbone=dataclasses.replace(winner.backbone,
                                                                 handle=random_handle))
    results = transfer_comparison.compare(candidates, os.path.join(workdir, "comparison_logs"))
    width = max(len(name) for name in results)
    for name, result in results.items():
        print(f"  {name:<{width}}  {result.accuracy:.4f}  ({result.embedded} of "
              f"{result.images} images embedded now)", file=out)
    if outcome.accuracy is not None:
        phase2 = run_details.phase2_outcome(outcome.uris.get("Trainer/ModelRun"))
        print(f"  {f'the pipeline ({phase2})':<{width}}  {outcome.accuracy:.4f}", file=out)


def serve_and_classify(config: config_lib.Config, pairs: List[Tuple[bytes, str]],
                       workdir: str, out) -> None:
    """Serves the pushed versions locally and classifies a few eval images over REST and gRPC."""
    assets = os.path.join(workdir, "serving_assets")
    deployment.write_assets(config, assets)
    print(f"\nTF Serving deployment files (docker compose / kubectl): {assets}", file=out)
    images = [p[0] for p in pairs]
    with LocalModelServer(config.serving.model_name, config.serving_model_dir,
                          rest_port=0, grpc_port=0) as server:
        print(f"hubtune serve on 127.0.0.1 (REST :{server.rest_port}, gRPC "
              f":{server.grpc_port}) serving {config.serving_model_dir}", file=out)
        rest = RestClient(f"http://127.0.0.1:{server.rest_port}", config.serving.model_name)
        version = rest.status()[0]["version"]
        by_rest = rest.predict_images(images)
        grpc_client = GrpcClient(f"127.0.0.1:{server.grpc_port}", config.serving.model_name)
        by_grpc = grpc_client.predict_images(images)
        grpc_client.close()
    print(f"predictions of version {version} over REST | gRPC:", file=out)
    for (_, truth), rc, rs, gc, gs in zip(pairs, by_rest["classes"], by_rest["scores"],
                                          by_grpc["classes"], by_grpc["scores"]):
        print(f"  true {truth:<11} REST {rc:<11} (p={max(rs):.3f}) | gRPC "
              f"{gc.decode():<11} (p={max(gs):.3f})", file=out)


def run_spans_demo(workdir: str, n_spans: int, limit, overrides, out) -> None:
    """The demo data arriving in ``n_spans`` spans: one retraining run each, then a table."""
    results = spans.run_spans(workdir, n_spans, limit, overrides,
                              lambda config: run_and_print(config, out), out)
    print("\n" + spans.format_table(results), file=out)
