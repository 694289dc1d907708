"""Compiling the one pipeline definition for Kubeflow Pipelines 2.x / Vertex AI.

No cluster here: the compiled JSON is parsed with kfp's pipeline-spec protos and
checked against the config (the pipeline image: tests/kubeflow/test_pipeline_image.py).
"""

import dataclasses
import json

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from hubtune import config as config_lib
from hubtune.pipeline import kubeflow_runner

IMAGE = "europe-west4-docker.pkg.dev/proj/ml/hubtune:1.0"
BEAM = ["--runner=DataflowRunner", "--project=proj", "--region=europe-west4",
        "--temp_location=gs://bucket/tmp"]
COMPONENTS = {"ImportExampleGen", "StatisticsGen", "LabelSchemaGen", "BlockingExampleValidator",
              "Transform", "Trainer", "Evaluator", "InfraValidator", "TFLiteExporter",
              "AtomicPusher"}
RESOLVER_TASKS = {"latest_blessed_model_resolver-model-blessing-resolver",
                  "latest_blessed_model_resolver-model-resolver"}
EDGES = {  # task -> the tasks it must wait for
    "StatisticsGen": {"ImportExampleGen"},
    "LabelSchemaGen": {"StatisticsGen"},
    "BlockingExampleValidator": {"ImportExampleGen", "StatisticsGen", "LabelSchemaGen"},
    "Transform": {"ImportExampleGen", "LabelSchemaGen", "BlockingExampleValidator"},
    "Trainer": {"Transform", "LabelSchemaGen"},
    "Evaluator": {"ImportExampleGen", "Trainer", "latest_blessed_model_resolver-model-resolver"},
    "InfraValidator": {"ImportExampleGen", "Trainer", "Evaluator"},
    "TFLiteExporter": {"ImportExampleGen", "Trainer", "Evaluator", "InfraValidator"},
    "AtomicPusher": {"Trainer", "Evaluator", "InfraValidator", "TFLiteExporter"},
}


def remote_raw(tmp_path, **kubeflow):
    return {
        "pipeline_name": "hubtune-kf", "pipeline_root": str(tmp_path / "local_root"),
        "data": {"train": "gs://bucket/data/span-{SPAN}/train/*.tfrecord",
                 "eval": "gs://bucket/data/span-{SPAN}/eval/*.tfrecord"},
        "backbone": {"handle": "gs://bucket/backbones/lite0", "input_size": 160},
        "serving": {"model_name": "elpv"},
        "tflite": {"variants": ["float16", "int8"]},
        "kubeflow": dict({"image": IMAGE, "pipeline_root": "gs://bucket/root",
                          "serving_dir": "gs://bucket/serving", "beam_args": BEAM,
                          "trainer_cpu": 8, "trainer_memory_gb": 32,
                          "trainer_gpu_count": 1}, **kubeflow),
    }


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("kf")
    config = config_lib.from_dict(remote_raw(tmp_path))
    out = str(tmp_path / "pipeline.json")
    kubeflow_runner.compile_pipeline(config, out)
    with open(out) as f:
        job_json = json.load(f)
    job = json_format.ParseDict(job_json, pipeline_spec_pb2.PipelineJob())
    spec = json_format.ParseDict(job_json["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    return config, job_json, job, spec


def _compile(raw, out: str):
    """Compiles ``raw``'s pipeline to ``out``: (the job JSON, its pipeline spec)."""
    kubeflow_runner.compile_pipeline(config_lib.from_dict(raw), out)
    with open(out) as f:
        job_json = json.load(f)
    return job_json, json_format.ParseDict(job_json["pipelineSpec"],
                                           pipeline_spec_pb2.PipelineSpec())


def _param(task, name):
    return task.inputs.parameters[name].runtime_value.constant_value.string_value


def test_all_components_and_resolver_tasks_with_their_edges(compiled):
    _, _, job, spec = compiled
    assert job.display_name == "hubtune-kf"
    tasks = spec.root.dag.tasks
    assert set(tasks) == COMPONENTS | RESOLVER_TASKS
    for name, upstream in EDGES.items():
        assert set(tasks[name].dependent_tasks) == upstream, name
    blessing = "latest_blessed_model_resolver-model-blessing-resolver"
    assert tasks["latest_blessed_model_resolver-model-resolver"].inputs.artifacts[
        "input"].task_output_artifact.producer_task == blessing


def test_kubeflow_serves_the_candidate_before_the_push_in_the_pipeline_image(compiled):
    """The serving check compiles like every component; the Pusher waits for its blessing."""
    _, job_json, _, spec = compiled
    executors = job_json["pipelineSpec"]["deploymentSpec"]["executors"]
    [infra] = [e for name, e in executors.items() if "InfraValidator" in name]
    assert "hubtune.components.serving_validator.Executor" in json.dumps(infra)
    assert infra["container"]["image"] == IMAGE
    pusher_inputs = spec.root.dag.tasks["AtomicPusher"].inputs.artifacts
    assert {"infra_blessing", "tflite_models"} <= set(pusher_inputs)


def test_tfx_own_infra_validator_does_not_compile_for_kubeflow_v2_in_tfx_1_16(tmp_path):
    """Why Kubeflow runs hubtune's serving check: the pinned TFX refuses its InfraValidator.
    When this fails, TFX compiles it and the pipeline can use it on Kubeflow."""
    from tfx import v1 as tfx
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner
    examples = tfx.components.ImportExampleGen(input_base=str(tmp_path))
    trainer = tfx.components.Trainer(run_fn="m.run_fn", examples=examples.outputs["examples"])
    infra = tfx.components.InfraValidator(
        model=trainer.outputs["model"], examples=examples.outputs["examples"],
        serving_spec=tfx.proto.ServingSpec(
            tensorflow_serving=tfx.proto.TensorFlowServing(tags=["2.16.1"]),
            kubernetes=tfx.proto.KubernetesConfig()))
    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=IMAGE),
        output_filename=str(tmp_path / "p.json"))
    with pytest.raises(NotImplementedError, match="InfraValidator"):
        runner.run(tfx.dsl.Pipeline(pipeline_name="p", pipeline_root=str(tmp_path),
                                    components=[examples, trainer, infra]))


def test_the_tuner_compiles_like_every_component(tmp_path):
    """tune.backbones adds TFX's Tuner (tuner_fn by dotted path, in the image); the Trainer
    takes its best_hyperparameters."""
    raw = remote_raw(tmp_path)
    raw["tune"] = {"backbones": [{"handle": "gs://bucket/backbones/lite0", "input_size": 224},
                                 {"handle": "gs://bucket/backbones/lite2", "input_size": 260}]}
    job_json, spec = _compile(raw, str(tmp_path / "tuned.json"))
    tasks = spec.root.dag.tasks
    assert set(tasks) == COMPONENTS | RESOLVER_TASKS | {"Tuner"}
    assert _param(tasks["Tuner"], "tuner_fn") == "hubtune.trainer_module.tuner.tuner_fn"
    assert "lite2" in _param(tasks["Tuner"], "custom_config")
    assert tasks["Trainer"].inputs.artifacts["hyperparameters"].task_output_artifact \
        .producer_task == "Tuner"
    [tuner] = [e for name, e in job_json["pipelineSpec"]["deploymentSpec"]["executors"].items()
               if name.startswith("Tuner")]
    assert tuner["container"]["image"] == IMAGE
    assert "hubtune.components.trial_table_tuner.TrialTableExecutor" in json.dumps(tuner)


def test_image_user_code_and_beam_args_come_from_the_config(compiled):
    _, job_json, _, spec = compiled
    executors = job_json["pipelineSpec"]["deploymentSpec"]["executors"]
    containers = {name: e["container"] for name, e in executors.items() if "container" in e}
    assert {f"{c}_executor" for c in COMPONENTS} <= set(containers)
    assert {c["image"] for c in containers.values()} == {IMAGE}
    for name in ("StatisticsGen", "Transform", "Evaluator", "BlockingExampleValidator"):
        args = containers[f"{name}_executor"]["args"]
        assert all(a in args for a in BEAM), name
    tasks = spec.root.dag.tasks
    assert _param(tasks["Trainer"], "run_fn") == "hubtune.trainer_module.run_fn"
    assert (_param(tasks["Transform"], "preprocessing_fn")
            == "hubtune.trainer_module.preprocessing_fn")
    text = json.dumps(job_json)
    assert "user_module" not in text and "module_file" not in text and ".whl" not in text
    # Custom components run from the image by class path.
    assert "hubtune.components.blocking_example_validator.Executor" in text
    assert "hubtune.components.atomic_pusher.Executor" in text


def test_parameters_resources_and_remote_paths(compiled):
    config, job_json, _, spec = compiled
    tasks = spec.root.dag.tasks
    trainer_config = json.loads(_param(tasks["Trainer"], "custom_config"))
    sent = trainer_config[config_lib.CUSTOM_CONFIG_KEY]
    assert sent["backbone"] == {"handle": "gs://bucket/backbones/lite0", "input_size": 160,
                                "flip_views": 1, "preprocessor": "",
                                "max_seq_length": 128}
    assert sent["train"]["embedding_cache_dir"] == "gs://bucket/root/embedding_cache"
    assert "gs://bucket/serving/elpv" in _param(tasks["AtomicPusher"], "push_destination")
    input_config = json.loads(_param(tasks["ImportExampleGen"], "input_config"))
    assert {s["pattern"] for s in input_config["splits"]} == {
        "span-{SPAN}/train/*.tfrecord", "span-{SPAN}/eval/*.tfrecord"}
    assert _param(tasks["ImportExampleGen"], "input_base") == "gs://bucket/data"
    eval_config = json.loads(_param(tasks["Evaluator"], "eval_config"))
    assert "SparseCategoricalAccuracy" in json.dumps(eval_config)
    executors = job_json["pipelineSpec"]["deploymentSpec"]["executors"]
    resources = executors["Trainer_executor"]["container"]["resources"]
    assert resources["cpuLimit"] == 8 and resources["memoryLimit"] == 32
    assert resources["accelerator"] == {"count": "1", "type": "NVIDIA_TESLA_T4"}
    assert "resources" not in executors["Transform_executor"]["container"]
    # The {SPAN} is resolved at run time by ExampleGen's driver (KFP's pre-cache check).
    driver = executors["ImportExampleGen_executor"]["container"]["lifecycle"]["preCacheCheck"]
    assert "tfx.orchestration.kubeflow.v2.file_based_example_gen.driver" in driver["command"]
    assert "/local_root" not in json.dumps(job_json)  # nothing local leaks into the spec


@pytest.mark.parametrize("change, message", [
    ({"kubeflow": {"image": ""}}, "kubeflow.image"),
    ({"kubeflow": {"pipeline_root": "/tmp/root"}}, "kubeflow.pipeline_root"),
    ({"data": {"train": "/data/train/*", "eval": None}}, "local path the containers"),
    ({"data": {"span_window": 3}}, "span_window"),
])
def test_configs_that_cannot_run_remotely_are_refused(tmp_path, change, message):
    raw = remote_raw(tmp_path)
    for section, values in change.items():
        raw[section].update(values)
    with pytest.raises(kubeflow_runner.CompileError, match=message):
        kubeflow_runner.compile_pipeline(config_lib.from_dict(raw), str(tmp_path / "p.json"))


def test_example_config_documents_the_kubeflow_section():
    raw = yaml.safe_load(open(config_lib.EXAMPLE_YAML))
    assert set(raw["kubeflow"]) == {f.name for f in
                                    dataclasses.fields(config_lib.KubeflowConfig)}


def test_a_text_pipeline_compiles_with_csv_example_gen(tmp_path):
    """Text from CSV on GCS: CsvExampleGen first, the text settings in the Trainer's
    custom_config, the same downstream tasks (no TFLite for text)."""
    raw = remote_raw(tmp_path)
    raw["data"] = {"format": "csv", "text_key": "review", "label_key": "rating",
                   "train": "gs://bucket/reviews/train/*.csv",
                   "eval": "gs://bucket/reviews/eval/*.csv"}
    raw["backbone"] = {"handle": "gs://bucket/minilm/encoder",
                       "preprocessor": "gs://bucket/minilm/preprocessor", "max_seq_length": 96}
    raw["tflite"] = {"variants": []}
    _, spec = _compile(raw, str(tmp_path / "text.json"))
    tasks = spec.root.dag.tasks
    expected = {("CsvExampleGen" if c == "ImportExampleGen" else c)
                for c in COMPONENTS - {"TFLiteExporter"}}
    assert set(tasks) == expected | RESOLVER_TASKS
    trainer_config = json.loads(_param(tasks["Trainer"], "custom_config"))
    text = trainer_config[config_lib.CUSTOM_CONFIG_KEY]
    assert text["data"]["text_key"] == "review" and text["data"]["image_key"] is None
    assert text["backbone"]["max_seq_length"] == 96
    assert text["backbone"]["preprocessor"] == "gs://bucket/minilm/preprocessor"
    assert "Transform" in {t.task_output_artifact.producer_task
                           for t in tasks["Trainer"].inputs.artifacts.values()}
