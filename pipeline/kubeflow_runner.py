"""``hubtune compile``: the same ``create_pipeline(config)`` compiled for Kubeflow Pipelines 2.x
and Vertex AI Pipelines with TFX's KubeflowV2DagRunner (KFP v2 pipeline IR, JSON).

User code is referenced by dotted path (``hubtune.trainer_module.run_fn``,
``hubtune.trainer_module.preprocessing_fn``) and baked into the container image
(kubeflow/Dockerfile), so no user-module wheel is built or uploaded at compile
time and the "No module named 'user_module_0'" trap cannot happen.
"""

import dataclasses
import os
from typing import Dict, List

from kfp.pipeline_spec import pipeline_spec_pb2
from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from hubtune import config as config_lib
from hubtune.pipeline.pipeline import create_pipeline

TRAINER_ID = "Trainer"
ResourceSpec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec


class CompileError(ValueError):
    """The config cannot run on a remote orchestrator as it stands (the message says why)."""


def remote_config(config: config_lib.Config) -> config_lib.Config:
    """The config as the containers see it: remote pipeline root, serving dir and Beam args."""
    kf = config.kubeflow
    problems: List[str] = []
    if not kf.image:
        problems.append("'kubeflow.image' is empty: build and push kubeflow/Dockerfile "
                        "(bash kubeflow/build_image.sh IMAGE) and set its URI")
    if not config_lib.is_remote(kf.pipeline_root):
        problems.append(f"'kubeflow.pipeline_root' ({kf.pipeline_root or 'empty'}) must be a "
                        "bucket path such as gs://my-bucket/hubtune")
    if not config_lib.is_remote(kf.serving_dir):
        problems.append(f"'kubeflow.serving_dir' ({kf.serving_dir or 'empty'}) must be a bucket "
                        "path TF Serving reads, such as gs://my-bucket/serving")
    named = [("data.train", config.data.train), ("data.eval", config.data.eval),
             ("backbone.handle", config.backbone.handle)]
    for key, value in named:
        if value and not config_lib.is_remote(value):
            problems.append(f"'{key}' ({value}) is a local path the containers cannot read: "
                            "copy it to a bucket (gsutil -m cp -r) and point the config there")
    if config.data.span_window > 1:
        problems.append(f"'data.span_window' is {config.data.span_window}: KubeflowV2DagRunner "
                        "compiles only latest-artifact and latest-blessed-model resolvers, not "
                        "a span-range resolver; use span_window: 1 (the latest span) remotely")
    if problems:
        raise CompileError("cannot compile for Kubeflow/Vertex:\n  - " + "\n  - ".join(problems))
    return dataclasses.replace(
        config, pipeline_root=kf.pipeline_root, beam_args=list(kf.beam_args),
        serving=dataclasses.replace(config.serving, base_dir=kf.serving_dir))


def trainer_resources(kf: config_lib.KubeflowConfig):
    """The Trainer's CPU / memory / accelerator request, or None when none is configured."""
    if not (kf.trainer_cpu or kf.trainer_memory_gb or kf.trainer_gpu_count):
        return None
    spec = ResourceSpec(cpu_limit=kf.trainer_cpu, memory_limit=kf.trainer_memory_gb)
    if kf.trainer_gpu_count:
        spec.accelerator.type = kf.trainer_gpu_type
        spec.accelerator.count = kf.trainer_gpu_count
    return spec


def compile_pipeline(config: config_lib.Config, output_path: str) -> Dict:
    """Writes the PipelineJob JSON for ``config`` to ``output_path``; returns it as a dict."""
    remote = remote_config(config)
    pipeline = create_pipeline(remote)
    resources = trainer_resources(config.kubeflow)
    if resources is not None:
        [trainer] = [c for c in pipeline.components if c.id == TRAINER_ID]
        trainer.with_platform_config(resources)
    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(
            display_name=config.kubeflow.display_name or config.pipeline_name,
            default_image=config.kubeflow.image),
        output_dir=os.path.dirname(os.path.abspath(output_path)),
        output_filename=os.path.basename(output_path))
    return runner.run(pipeline, write_out=True)
