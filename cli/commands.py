"""One thin function per ``hubtune`` command: load the config, call the room that does
the job, print its answer.  Heavy rooms are imported inside the command that needs
them, so ``hubtune --help`` and ``hubtune predict`` start without TFX."""

import dataclasses
import json
import logging
import os
import sys

from hubtune import config as config_lib
from hubtune.cli import console
from hubtune.config import names

DEFAULT_DEMO_DIR = "hubtune_demo"
EXIT_CONFIG_ERROR = 2


def _log_path(pipeline_root: str) -> str:
    return os.path.join(pipeline_root, console.LOG_FILE_NAME)


def _quiet_tensorflow() -> None:
    """report/status print their own output: keep TF's C++ and Python chatter off it."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    for name in ("tensorflow", "absl"):
        logging.getLogger(name).setLevel(logging.ERROR)


def cmd_run(args) -> int:
    config = config_lib.load(args.config, args.set)
    print(f"full logs: {_log_path(config.pipeline_root)}")
    if config.data.modality == config_lib.TEXT:
        b = config.backbone
        print(f"text in '{config.data.text_key}': encoder {b.handle}"
              + (f" with preprocessor {b.preprocessor}" if b.preprocessor else "")
              + f", max_seq_length {b.max_seq_length}")
    with console.quiet_console(_log_path(config.pipeline_root), args.verbose) as out:
        from hubtune.demo.walkthrough import run_and_print
        run_and_print(config, out)
    return 0


def cmd_demo(args) -> int:
    from hubtune.demo import walkthrough
    workdir = os.path.abspath(args.workdir)
    if args.task == "text":
        return _text_demo(os.path.join(workdir, "text"), args)
    if args.spans:
        workdir = os.path.join(workdir, f"spans-{args.spans}")
    elif args.budget != "short":
        workdir = os.path.join(workdir, f"budget-{args.budget}")
    log_path = _log_path(os.path.join(workdir, "pipeline_root"))
    what = f", {args.spans} arriving spans," if args.spans else ""
    print(f"hubtune demo{what} in {workdir} (full logs: {log_path})")
    with console.quiet_console(log_path, args.verbose) as out:
        if args.spans:
            walkthrough.run_spans_demo(workdir, args.spans, args.limit, args.set, out)
        else:
            walkthrough.run_demo(workdir, args.limit, args.set, out, budget=args.budget)
    return 0


def _text_demo(workdir: str, args) -> int:
    from hubtune.demo import text_demo
    log_path = _log_path(os.path.join(workdir, "pipeline_root"))
    print(f"hubtune demo --task text in {workdir} (full logs: {log_path})")
    with console.quiet_console(log_path, args.verbose) as out:
        text_demo.run_text_demo(workdir, args.set, out)
    return 0


def cmd_gate(args) -> int:
    """Exit 0: passes; 1: fails a threshold; 2: could not evaluate (reason on stderr)."""
    os.makedirs(args.output_dir, exist_ok=True)
    log_path = os.path.join(args.output_dir, "gate.log")
    result, error = None, None
    with console.quiet_console(log_path, args.verbose) as out:
        from hubtune.gate import evaluation, summary
        try:
            config = config_lib.load(args.config, args.set)
            print(f"evaluating (full logs: {log_path}) ...", file=out)
            result = evaluation.evaluate(config, args.candidate, args.baseline, args.eval_data)
        except (evaluation.GateError, config_lib.ConfigError, OSError) as e:
            error = str(e)
        if result is not None:
            paths = summary.write(result, args.output_dir)
            print(summary.to_markdown(result), file=out)
            print(f"wrote {paths['json']} and {paths['markdown']}", file=out)
    if error is not None:
        print(f"hubtune gate: cannot evaluate: {error}", file=sys.stderr)
        return evaluation.ERROR
    for c in result.failures:
        print(f"hubtune gate: FAILED {c.name}: {c.value:.4f} vs bound {c.bound:.4f} "
              f"(short by {-c.margin:.4f})", file=sys.stderr)
    return evaluation.PASSED if result.passed else evaluation.FAILED


def cmd_report(args) -> int:
    config = config_lib.load(args.config, args.set)
    _quiet_tensorflow()
    from hubtune.report import html_report
    from hubtune.runs import run_details
    run_id = None if args.run == "latest" else args.run
    html_text = html_report.render(
        run_details.run_details(config.metadata_path, run_id, config.data), config)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w") as f:
        f.write(html_text)
    print(f"wrote {args.output} ({len(html_text) / 1024:.0f} KiB, self-contained)")
    return 0


def cmd_status(args) -> int:
    config = config_lib.load(args.config, args.set)
    _quiet_tensorflow()
    from hubtune.runs import status
    state = status.collect(config, limit=args.runs)
    print(json.dumps(dataclasses.asdict(state), indent=1) if args.json
          else status.format_table(state))
    return 0


def cmd_compile(args) -> int:
    config = config_lib.load(args.config, args.set)
    _quiet_tensorflow()
    from hubtune.pipeline import kubeflow_runner
    try:
        job = kubeflow_runner.compile_pipeline(config, args.output)
    except kubeflow_runner.CompileError as e:
        print(f"hubtune compile: {e}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    tasks = job["pipelineSpec"]["root"]["dag"]["tasks"]
    print(f"wrote {args.output}: KFP v2 pipeline '{job['displayName']}' with {len(tasks)} tasks, "
          f"image {config.kubeflow.image}, pipeline root {config.kubeflow.pipeline_root}")
    print(f"submit: hubtune submit --config {args.config} --pipeline {args.output} "
          "--target kfp|vertex   (schedule: hubtune schedule ... --cron '0 3 * * *')")
    return 0


def cmd_submit(args) -> int:
    """``submit`` (one run) and ``schedule`` (with ``--cron``: a recurring run)."""
    from hubtune.kubeflow import submission
    cron = getattr(args, "cron", None)
    try:
        if cron is not None:
            submission.check_cron(cron)
    except submission.SubmissionError as e:
        print(f"hubtune schedule: {e}", file=sys.stderr)
        return EXIT_CONFIG_ERROR
    config = config_lib.load(args.config, args.set)
    try:
        answer = submission.submit(config.kubeflow, args.pipeline, args.target, cron)
    except submission.SubmissionError as e:
        print(f"hubtune: {e}", file=sys.stderr)
        print(submission.manual_instructions(args.target, args.pipeline, config.kubeflow, cron),
              file=sys.stderr)
        return 1
    what = f"recurring run ({cron})" if cron else "run"
    print(f"created {args.target} {what}: {json.dumps(answer)[:500]}")
    return 0


def cmd_backbone_export(args) -> int:
    if args.model in names.OFFLINE_TEXT_ENCODERS:
        return _export_text_encoder(args)
    from hubtune.backbones import hub_export
    weights = "imagenet" if args.weights == "pretrained" else args.weights
    path = hub_export.export_efficientnet_lite(args.out, model=args.model, weights=weights,
                                               seed=args.seed)
    print(f"wrote {args.model} ({weights} weights) as a TF-Hub image feature-vector "
          f"SavedModel to {path}; its native input size is "
          f"{hub_export.native_input_size(args.model)} px (backbone.input_size)")
    return 0


def _export_text_encoder(args) -> int:
    from hubtune.backbones import minilm
    if args.weights == "imagenet":
        raise config_lib.ConfigError(f"{args.model} is a text encoder: --weights pretrained "
                                     "or random")
    handle = minilm.export(args.out, args.contract, args.weights, args.seq_length, args.seed)
    what = ("a TF-Hub text embedding (strings -> 384-d, tokenization in the graph)"
            if args.contract == "embedding" else
            f"a TF-Hub BERT encoder with its preprocessor ({args.seq_length} tokens) in "
            f"{os.path.join(args.out, 'preprocessor')}")
    print(f"wrote {args.model} ({args.weights} weights) as {what}; backbone.handle: {handle}")
    return 0


def cmd_schema_freeze(args) -> int:
    from hubtune.runs import schema_freeze
    config = config_lib.load(args.config, args.set, check_files=False)  # data.schema: not yet
    out = args.out or config.data.schema
    if not out:
        raise config_lib.ConfigError("where to write the schema? pass --out PATH (or set "
                                     "data.schema in the config)")
    source = schema_freeze.freeze(config.metadata_path, out, force=args.force)
    print(f"froze {source}\n  -> {out}\nReview and commit it; with data.schema: {out} the "
          "pipeline imports it, and new labels or label drift beyond data.max_label_drift "
          "stop the run.")
    return 0


def cmd_inspect(args) -> int:
    from hubtune.serving import inspect_model
    print("\n".join(inspect_model.describe(args.model_dir)))
    return 0


def cmd_serving_assets(args) -> int:
    config = config_lib.load(args.config, args.set)
    from hubtune.serving import deployment
    for path in deployment.write_assets(config, args.out).values():
        print(f"wrote {path}")
    print(f"run TF Serving with: cd {args.out} && docker compose up   "
          f"(or kubectl apply -f {os.path.join(args.out, deployment.K8S_DIR)})")
    return 0


def cmd_serve(args) -> int:
    from hubtune.serving import serve_command
    return serve_command.serve(args)


def _print_top(paths, classes, scores, top: int) -> None:
    for path, cls, row in zip(paths, classes, scores):
        cls = cls.decode() if isinstance(cls, bytes) else cls
        best = sorted(enumerate(row), key=lambda p: -p[1])[:top]
        print(f"{path}: {cls}  (" + ", ".join(f"class {i}: {p:.3f}" for i, p in best) + ")")


def _predict_tflite(args, images) -> int:
    from hubtune.edge import edge_files
    scores, names = edge_files.classify_files(args.tflite, images)
    _print_top(args.images, [names[i] for i in scores.argmax(-1)], scores, args.top)
    return 0


def _texts_to_predict(args) -> list:
    """``--text`` values, then the lines of ``--text-file`` (blank lines skipped)."""
    texts = list(args.text)
    if args.text_file:
        try:
            with open(args.text_file, encoding="utf-8") as f:
                texts += [line.rstrip("\n") for line in f if line.strip()]
        except UnicodeDecodeError as e:
            raise config_lib.ConfigError(f"--text-file {args.text_file} is not UTF-8 "
                                         f"(byte {e.start}); re-encode it") from e
    return texts


def _client(args):
    from hubtune.serving.client import GrpcClient, RestClient
    if not args.model_name:
        raise config_lib.ConfigError("--model-name is required with --url or --grpc")
    return (GrpcClient(args.grpc, args.model_name, timeout=args.timeout) if args.grpc
            else RestClient(args.url, args.model_name, timeout=args.timeout))


def _predict_texts(args, texts) -> int:
    from hubtune.serving.client import ServingError
    if args.tflite or args.images:
        raise config_lib.ConfigError("--text/--text-file go to a served text model (--url or "
                                     "--grpc), without image files or --tflite")
    try:
        out = _client(args).predict_texts(texts, version=args.version)
    except ServingError as e:
        print(f"hubtune: the server answered {e}", file=sys.stderr)
        return 1
    shown = [t if len(t) <= 60 else t[:57] + "..." for t in texts]
    _print_top([json.dumps(t, ensure_ascii=False) for t in shown], out["classes"],
               out["scores"], args.top)
    return 0


def cmd_predict(args) -> int:
    from hubtune.serving import image_limits
    from hubtune.serving.client import ServingError
    texts = _texts_to_predict(args)
    if texts:
        return _predict_texts(args, texts)
    if not args.images:
        raise config_lib.ConfigError("give image files, --text or --text-file")
    images = []
    for path in args.images:
        with open(path, "rb") as f:
            images.append(f.read())
        try:
            image_limits.check_pixels(images[-1], args.max_image_pixels, path)
        except image_limits.ImageTooLarge as e:
            print(f"hubtune predict: {e}; nothing was sent (raise --max-image-pixels to "
                  "send it anyway)", file=sys.stderr)
            return EXIT_CONFIG_ERROR
    if args.tflite:
        return _predict_tflite(args, images)
    try:
        out = _client(args).predict_images(images, version=args.version)
    except ServingError as e:
        print(f"hubtune: the server answered {e}", file=sys.stderr)
        return 1
    _print_top(args.images, out["classes"], out["scores"], args.top)
    return 0


def cmd_tflite_export(args) -> int:
    from hubtune.edge import edge_files
    data = config_lib.DataConfig(image_key=args.image_key)
    path = edge_files.export_variant(args.model, args.quantization, args.out,
                                     args.calibration_data, data, args.calibration_examples,
                                     args.int8_float_layers)
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.2f} MB) with labels.txt and "
          "metadata.json: input uint8 [1, H, W, 3] RGB pixels resized by the app, output "
          "float32 scores in labels.txt order")
    return 0
