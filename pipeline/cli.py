"""The ``hubtune`` command line: thin argument parsing over the library."""

import argparse
import os
import sys
import time
import warnings

from pipeline import config as config_lib

DEFAULT_DEMO_DIR = "hubtune_demo"


def _print_outcome(outcome, config, out) -> None:
    print(f"\nrun {outcome.run_id}", file=out)
    for c in outcome.components:
        print(f"  {c.node_id:<32} {c.state:<10} {c.seconds:7.1f} s", file=out)
    if outcome.accuracy is not None:
        base = (f" (baseline {outcome.baseline_accuracy:.4f})"
                if outcome.baseline_accuracy is not None else " (no baseline yet)")
        print(f"eval accuracy: {outcome.accuracy:.4f}{base}", file=out)
    if outcome.blessed:
        print(f"blessed: yes; pushed to {outcome.pushed_path}", file=out)
    elif outcome.blessed is False:
        print("blessed: NO - the serving directory was left untouched "
              f"({config.serving_model_dir}). Failed checks:", file=out)
        for line in outcome.failed_checks:
            print(f"  - {line}", file=out)


def _log_path(pipeline_root: str) -> str:
    from pipeline import console
    return os.path.join(pipeline_root, console.LOG_FILE_NAME)


def cmd_run(args) -> int:
    config = config_lib.load(args.config, args.set)
    from pipeline import console
    print(f"full logs: {_log_path(config.pipeline_root)}")
    with console.quiet_console(_log_path(config.pipeline_root), args.verbose) as out:
        from pipeline.local_runner import run_local
        outcome = run_local(config)
        _print_outcome(outcome, config, out)
    return 0


def cmd_demo(args) -> int:
    from pipeline import console
    started = time.time()
    workdir = os.path.abspath(args.workdir)
    log_path = _log_path(os.path.join(workdir, "pipeline_root"))
    print(f"hubtune demo in {workdir} (full logs: {log_path})")
    with console.quiet_console(log_path, args.verbose) as out:
        from pipeline import backbone_comparison, demo
        from pipeline.local_runner import run_local
        print("preparing the ELPV data and the EfficientNet-Lite0 backbone ...", file=out)
        config = demo.demo_config(workdir, limit=args.limit, overrides=args.set)
        config_path = os.path.join(workdir, "demo-config.yaml")
        demo.write_config(config, config_path)
        t = config.train
        print(f"input {config.backbone.input_size}x{config.backbone.input_size}, batch "
              f"{t.batch_size}, head epochs {t.head_epochs}, fine-tune epochs "
              f"{t.finetune_epochs} (top {t.finetune_fraction:.0%} of the backbone); "
              f"config: {config_path}", file=out)
        outcome = run_local(config)
        _print_outcome(outcome, config, out)

        print("\nwhat transfer bought (same head, frozen backbone, features computed once):",
              file=out)
        random_handle = demo.prepare_backbone(
            os.path.join(workdir, "backbones", "efficientnet_lite0_random"), weights="random")
        accuracies = backbone_comparison.compare(
            config, {"imagenet": config.backbone.handle, "random": random_handle},
            os.path.join(workdir, "comparison_logs"))
        print(f"  ImageNet-pretrained backbone, head only:  {accuracies['imagenet']:.4f}", file=out)
        print(f"  randomly initialised backbone, head only: {accuracies['random']:.4f}", file=out)
        if outcome.accuracy is not None:
            print(f"  the pipeline's model (both phases):      {outcome.accuracy:.4f}", file=out)
        if outcome.pushed_path:
            _demo_serving(config, demo.eval_images(config, 6), workdir, out)
        print(f"\ndemo finished in {time.time() - started:.0f} s", file=out)
    return 0


def _demo_serving(config, pairs, workdir: str, out) -> None:
    """Serves the pushed versions locally and classifies a few eval images over REST and gRPC."""
    from serving import deployment
    from serving.client import GrpcClient, RestClient
    from serving.server import LocalModelServer
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


def cmd_backbone_export(args) -> int:
    from trainer_module import backbone
    path = backbone.export_efficientnet_lite0(args.out, weights=args.weights, seed=args.seed)
    print(f"wrote a TF-Hub image feature-vector SavedModel ({args.weights} weights) to {path}")
    return 0


def cmd_inspect(args) -> int:
    from serving import inspect_model
    print("\n".join(inspect_model.describe(args.model_dir)))
    return 0


def cmd_serving_assets(args) -> int:
    config = config_lib.load(args.config, args.set)
    from serving import deployment
    for name, path in deployment.write_assets(config, args.out).items():
        print(f"wrote {path}")
    print(f"run TF Serving with: cd {args.out} && docker compose up   "
          f"(or kubectl apply -f {os.path.join(args.out, deployment.K8S_DIR)})")
    return 0


def cmd_serve(args) -> int:
    import logging
    import signal
    from serving.server import LocalModelServer
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    server = LocalModelServer(args.model_name, args.model_base_path, host=args.host,
                              rest_port=args.rest_port, grpc_port=args.grpc_port,
                              max_request_bytes=args.max_request_bytes,
                              poll_seconds=args.poll_seconds)
    print(f"hubtune serve (development server; production serving is TensorFlow Serving): "
          f"model '{args.model_name}' from {args.model_base_path}, REST "
          f"http://{args.host}:{server.rest_port}, gRPC {args.host}:{server.grpc_port}",
          flush=True)
    ready = server.start(wait_seconds=0)
    if not ready:
        print("no version AVAILABLE yet; polling for versions ...", flush=True)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        while not stop:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    server.stop()
    return 0


def cmd_predict(args) -> int:
    from serving.client import GrpcClient, RestClient, ServingError
    client = (GrpcClient(args.grpc, args.model_name, timeout=args.timeout) if args.grpc
              else RestClient(args.url, args.model_name, timeout=args.timeout))
    images = []
    for path in args.images:
        with open(path, "rb") as f:
            images.append(f.read())
    try:
        out = client.predict_images(images, version=args.version)
    except ServingError as e:
        print(f"hubtune: the server answered {e}", file=sys.stderr)
        return 1
    for path, cls, scores in zip(args.images, out["classes"], out["scores"]):
        cls = cls.decode() if isinstance(cls, bytes) else cls
        top = sorted(enumerate(scores), key=lambda p: -p[1])[: args.top]
        print(f"{path}: {cls}  (" + ", ".join(f"class {i}: {p:.3f}" for i, p in top) + ")")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hubtune", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the pipeline locally on a config file")
    run.add_argument("--config", required=True, help="YAML config file")
    run.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config key, e.g. --set train.head_epochs=3")
    run.add_argument("--verbose", action="store_true",
                     help="stream TFX/Beam/TF logs instead of writing them to the log file")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="run the embedded ELPV demo end to end")
    demo.add_argument("--workdir", default=DEFAULT_DEMO_DIR)
    demo.add_argument("--limit", type=int, default=None,
                      help="use a stratified subset of this many images")
    demo.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    demo.add_argument("--verbose", action="store_true")
    demo.set_defaults(func=cmd_demo)

    bb = sub.add_parser("backbone", help="backbone tools")
    bb_sub = bb.add_subparsers(dest="backbone_command", required=True)
    export = bb_sub.add_parser("export", help="export the demo EfficientNet-Lite0 as a "
                               "TF-Hub image feature-vector SavedModel")
    export.add_argument("--out", required=True)
    export.add_argument("--weights", choices=("imagenet", "random"), default="imagenet")
    export.add_argument("--seed", type=int, default=0)
    export.set_defaults(func=cmd_backbone_export)

    inspect = sub.add_parser("inspect", help="print a SavedModel's serving signatures")
    inspect.add_argument("model_dir", help="a SavedModel dir or a TF Serving model base path")
    inspect.set_defaults(func=cmd_inspect)

    from serving import settings
    assets = sub.add_parser("serving-assets", help="write TF Serving deployment files "
                            "(models.config, batching, monitoring, docker-compose, Kubernetes)")
    assets.add_argument("--config", required=True)
    assets.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    assets.add_argument("--out", required=True, help="folder to write them to")
    assets.set_defaults(func=cmd_serving_assets)

    serve = sub.add_parser(
        "serve", help="development model server speaking TF Serving's REST and gRPC APIs",
        description="A local stand-in for TensorFlow Serving, for development, tests and the "
        "demo; production serving is TensorFlow Serving (see serving/). Implements: REST "
        "GET /v1/models/NAME[/versions/V][/metadata], POST .../NAME[/versions/V]:predict "
        "(row and columnar JSON, b64 binaries); gRPC PredictionService.Predict, "
        "PredictionService.GetModelMetadata, ModelService.GetModelStatus. Loads the newest "
        "complete version under the base path, runs its warmup requests, polls for new "
        "versions and keeps the latest 2.")
    serve.add_argument("--model-name", required=True)
    serve.add_argument("--model-base-path", required=True)
    serve.add_argument("--host", default=settings.DEFAULT_HOST,
                       help="address to bind (default loopback only)")
    serve.add_argument("--rest-port", type=int, default=settings.DEFAULT_REST_PORT)
    serve.add_argument("--grpc-port", type=int, default=settings.DEFAULT_GRPC_PORT)
    serve.add_argument("--max-request-bytes", type=int,
                       default=settings.DEFAULT_MAX_REQUEST_BYTES)
    serve.add_argument("--poll-seconds", type=float, default=settings.DEFAULT_POLL_SECONDS)
    serve.set_defaults(func=cmd_serve)

    predict = sub.add_parser("predict", help="classify images through TF Serving (REST or gRPC)")
    target = predict.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="REST base URL, e.g. http://localhost:8501")
    target.add_argument("--grpc", help="gRPC HOST:PORT, e.g. localhost:8500")
    predict.add_argument("--model-name", required=True)
    predict.add_argument("--version", type=int, default=None)
    predict.add_argument("--timeout", type=float, default=10.0)
    predict.add_argument("--top", type=int, default=3, help="scores shown per image")
    predict.add_argument("images", nargs="+", help="PNG/JPEG files")
    predict.set_defaults(func=cmd_predict)
    return parser


def main(argv=None) -> int:
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except config_lib.ConfigError as e:
        print(f"hubtune: config error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - surface known pipeline failures plainly
        from pipeline.local_runner import PipelineRunError
        if isinstance(e, PipelineRunError):
            print(f"hubtune: {e}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
