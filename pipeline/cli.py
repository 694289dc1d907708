"""The ``hubtune`` command line: thin argument parsing over the library."""

import argparse
import json
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


def cmd_demo_spans(args) -> int:
    """Demo data arriving in ``--spans`` spans: one retraining run each, then a table."""
    from pipeline import console
    workdir = os.path.join(os.path.abspath(args.workdir), f"spans-{args.spans}")
    log_path = _log_path(os.path.join(workdir, "pipeline_root"))
    print(f"hubtune demo, {args.spans} arriving spans, in {workdir} (full logs: {log_path})")
    with console.quiet_console(log_path, args.verbose) as out:
        from pipeline import spans_demo
        from pipeline.local_runner import run_local

        def run(config):
            outcome = run_local(config)
            _print_outcome(outcome, config, out)
            return outcome

        results = spans_demo.run_spans(workdir, args.spans, args.limit, args.set, run, out)
        print("\n" + spans_demo.format_table(results), file=out)
    return 0


def cmd_demo(args) -> int:
    if args.spans:
        return cmd_demo_spans(args)
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


def cmd_gate(args) -> int:
    """Exit 0: passes; 1: fails a threshold; 2: could not evaluate (reason on stderr)."""
    from pipeline import console
    os.makedirs(args.output_dir, exist_ok=True)
    log_path = os.path.join(args.output_dir, "gate.log")
    result, error = None, None
    with console.quiet_console(log_path, args.verbose) as out:
        from pipeline import gate as gate_lib
        from pipeline import gate_summary
        try:
            config = config_lib.load(args.config, args.set)
            print(f"evaluating (full logs: {log_path}) ...", file=out)
            result = gate_lib.evaluate(config, args.candidate, args.baseline, args.eval_data)
        except (gate_lib.GateError, config_lib.ConfigError, OSError) as e:
            error = str(e)
        if result is not None:
            paths = gate_summary.write(result, args.output_dir)
            print(gate_summary.to_markdown(result), file=out)
            print(f"wrote {paths['json']} and {paths['markdown']}", file=out)
    if error is not None:
        print(f"hubtune gate: cannot evaluate: {error}", file=sys.stderr)
        return gate_lib.ERROR
    for c in result.failures:
        print(f"hubtune gate: FAILED {c.name}: {c.value:.4f} vs bound {c.bound:.4f} "
              f"(short by {-c.margin:.4f})", file=sys.stderr)
    return gate_lib.PASSED if result.passed else gate_lib.FAILED


def metadata_errors():
    from pipeline.metadata import MetadataError
    return MetadataError


def _quiet_tensorflow() -> None:
    """report/status print their own output: keep TF's C++ and Python chatter off it."""
    import logging
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)


def cmd_report(args) -> int:
    config = config_lib.load(args.config, args.set)
    _quiet_tensorflow()
    from pipeline import report, run_details
    run_id = None if args.run == "latest" else args.run
    html_text = report.render(run_details.run_details(config.metadata_path, run_id), config)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        f.write(html_text)
    print(f"wrote {args.output} ({len(html_text) / 1024:.0f} KiB, self-contained)")
    return 0


def cmd_status(args) -> int:
    config = config_lib.load(args.config, args.set)
    _quiet_tensorflow()
    import dataclasses
    import json
    from pipeline import status
    state = status.collect(config, limit=args.runs)
    print(json.dumps(dataclasses.asdict(state), indent=1) if args.json
          else status.format_table(state))
    return 0


def cmd_compile(args) -> int:
    config = config_lib.load(args.config, args.set)
    _quiet_tensorflow()
    from pipeline import kubeflow_runner
    try:
        job = kubeflow_runner.compile_pipeline(config, args.output)
    except kubeflow_runner.CompileError as e:
        print(f"hubtune compile: {e}", file=sys.stderr)
        return 2
    tasks = job["pipelineSpec"]["root"]["dag"]["tasks"]
    print(f"wrote {args.output}: KFP v2 pipeline '{job['displayName']}' with {len(tasks)} tasks, "
          f"image {config.kubeflow.image}, pipeline root {config.kubeflow.pipeline_root}")
    print(f"submit: hubtune submit --config {args.config} --pipeline {args.output} "
          "--target kfp|vertex   (schedule: hubtune schedule ... --cron '0 3 * * *')")
    return 0


def _submit(args, cron=None) -> int:
    config = config_lib.load(args.config, args.set)
    from pipeline import submission
    kf = config.kubeflow
    try:
        job = submission.load_job(args.pipeline)
        if args.target == "kfp":
            if not kf.kfp_host:
                raise submission.SubmissionError(
                    "'kubeflow.kfp_host' is empty: set the KFP API address (e.g. "
                    "http://localhost:8080 after `kubectl port-forward -n kubeflow "
                    "svc/ml-pipeline-ui 8080:80`)")
            client = submission.KfpClient(kf.kfp_host, os.environ.get("KFP_TOKEN"))
            answer = (client.create_recurring_run(job, kf.pipeline_root, cron) if cron
                      else client.create_run(job, kf.pipeline_root))
        else:
            if not kf.vertex_project:
                raise submission.SubmissionError("'kubeflow.vertex_project' is empty")
            client = submission.VertexClient(kf.vertex_project, kf.vertex_region)
            sa = kf.service_account or None
            answer = (client.create_schedule(job, kf.pipeline_root, cron, sa) if cron
                      else client.create_pipeline_job(job, kf.pipeline_root, sa))
    except submission.SubmissionError as e:
        print(f"hubtune: {e}", file=sys.stderr)
        print(submission.manual_instructions(args.target, args.pipeline, kf, cron),
              file=sys.stderr)
        return 1
    what = f"recurring run ({cron})" if cron else "run"
    print(f"created {args.target} {what}: {json.dumps(answer)[:500]}")
    return 0


def cmd_submit(args) -> int:
    return _submit(args)


def cmd_schedule(args) -> int:
    from pipeline import submission
    try:
        submission.check_cron(args.cron)
    except submission.SubmissionError as e:
        print(f"hubtune schedule: {e}", file=sys.stderr)
        return 2
    return _submit(args, cron=args.cron)


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
    stop = []  # the handler goes in first: a SIGTERM right after the ports open must stop us
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    ready = server.start(wait_seconds=0)
    if not ready:
        print("no version AVAILABLE yet; polling for versions ...", flush=True)
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


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML config file")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set train.head_epochs=3")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hubtune", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the pipeline locally on a config file")
    _config_options(run)
    run.add_argument("--verbose", action="store_true",
                     help="stream TFX/Beam/TF logs instead of writing them to the log file")
    run.set_defaults(func=cmd_run)

    demo = sub.add_parser("demo", help="run the embedded ELPV demo end to end")
    demo.add_argument("--workdir", default=DEFAULT_DEMO_DIR)
    demo.add_argument("--limit", type=int, default=None,
                      help="use a stratified subset of this many images")
    demo.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    demo.add_argument("--verbose", action="store_true")
    demo.add_argument("--spans", type=int, default=0, help="split the data into N spans "
                      "that arrive one by one: a retraining run per span, then a table")
    demo.set_defaults(func=cmd_demo)

    gate = sub.add_parser(
        "gate", help="CI model gate: evaluate a candidate against a baseline with the "
        "pipeline's own Evaluator thresholds (exit 0 pass, 1 fail, 2 cannot evaluate)")
    _config_options(gate)
    gate.add_argument("--candidate", default=None, help="SavedModel folder (default: the "
                      "latest model the pipeline trained)")
    gate.add_argument("--baseline", default="latest-blessed",
                      help="latest-blessed (default), none, or a SavedModel folder")
    gate.add_argument("--eval-data", default=None, help="glob of TFRecord files of raw "
                      "tf.Examples (default: the eval split of the pipeline's latest run)")
    gate.add_argument("--output-dir", default=".", help="where gate.json and gate.md go")
    gate.add_argument("--verbose", action="store_true")
    gate.set_defaults(func=cmd_gate)

    report = sub.add_parser("report", help="one self-contained HTML report of a pipeline run")
    _config_options(report)
    report.add_argument("--run", default="latest", help="latest (default) or a run id "
                        "(see `hubtune status`)")
    report.add_argument("--output", default="report.html")
    report.set_defaults(func=cmd_report)

    status = sub.add_parser("status", help="recent runs, the latest blessed model and the "
                            "served versions, from ML Metadata")
    _config_options(status)
    status.add_argument("--runs", type=int, default=5, help="how many recent runs to show")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=cmd_status)

    comp = sub.add_parser("compile", help="compile the pipeline for Kubeflow Pipelines 2.x / "
                          "Vertex AI (KubeflowV2DagRunner, KFP v2 JSON)")
    _config_options(comp)
    comp.add_argument("--output", default="pipeline.json")
    comp.set_defaults(func=cmd_compile)
    for name, helptext in (("submit", "start one run of a compiled pipeline"),
                           ("schedule", "create a recurring run (KFP) / schedule (Vertex)")):
        p = sub.add_parser(name, help=helptext)
        _config_options(p)
        p.add_argument("--pipeline", default="pipeline.json", help="from `hubtune compile`")
        p.add_argument("--target", choices=("kfp", "vertex"), required=True)
        if name == "schedule":
            p.add_argument("--cron", required=True, help="5-field cron, e.g. '0 3 * * *'")
        p.set_defaults(func=cmd_submit if name == "submit" else cmd_schedule)

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
    _config_options(assets)
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
    except metadata_errors() as e:  # no such run, no ML Metadata yet
        print(f"hubtune: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - surface known pipeline failures plainly
        from pipeline.local_runner import PipelineRunError
        if isinstance(e, PipelineRunError):
            print(f"hubtune: {e}", file=sys.stderr)
            return 1
        raise


if __name__ == "__main__":
    sys.exit(main())
