"""``create_pipeline(config)``: the one hubtune pipeline definition, for every runner."""

import os
from typing import List, Optional, Tuple

from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.proto import example_gen_pb2

from components.atomic_pusher import AtomicPusher
from components.data_gate import DataGate
from components.image_folder_example_gen import ImageFolderExampleGen
from components.label_schema_gen import LabelSchemaGen
from pipeline import config as config_lib
from pipeline import eval_config

PREPROCESSING_FN = "trainer_module.preprocessing_fn"
RUN_FN = "trainer_module.run_fn"
RESOLVER_ID = "latest_blessed_model_resolver"


def _split_base(path: str) -> Tuple[str, str]:
    """'gs://b/data/x*.tfr' -> ('gs://b/data', 'x*.tfr'), keeping URL schemes intact."""
    head, _, tail = path.rstrip("/").rpartition("/")
    return head, tail


def _common_base(dirs: List[str]) -> str:
    parts = [d.split("/") for d in dirs]
    common = []
    for segment in zip(*parts):
        if len(set(segment)) != 1:
            break
        common.append(segment[0])
    return "/".join(common) or "/"


def _split_pattern(value: str, data_format: str) -> str:
    """The glob ExampleGen fingerprints: every image, or every data file."""
    if data_format == "image_folder":
        return config_lib.image_folder_pattern(value)
    if not config_lib.is_remote(value) and os.path.isdir(value):
        return value.rstrip("/") + "/*"
    return value


def example_gen_inputs(data: config_lib.DataConfig):
    """input_base, input_config and output_config for the configured data."""
    named = [("train", data.train)] + ([("eval", data.eval)] if data.eval else [])
    patterns = [(name, _split_pattern(value, data.format)) for name, value in named]
    base = _common_base([_split_base(p)[0] for _, p in patterns])
    splits = [example_gen_pb2.Input.Split(name=name, pattern=p[len(base):].lstrip("/"))
              for name, p in patterns]
    if data.eval:
        return base, example_gen_pb2.Input(splits=splits), None
    single = example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(
        name="single_split", pattern=splits[0].pattern)])
    output = example_gen_pb2.Output(split_config=example_gen_pb2.SplitConfig(splits=[
        example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=100 - data.eval_percent),
        example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=data.eval_percent)]))
    return base, single, output


def _example_gen(data: config_lib.DataConfig):
    base, input_config, output_config = example_gen_inputs(data)
    if data.format == "image_folder":
        return ImageFolderExampleGen(base, data.image_key, data.label_key,
                                     input_config=input_config, output_config=output_config)
    return tfx.components.ImportExampleGen(input_base=base, input_config=input_config,
                                           output_config=output_config)


def create_components(config: config_lib.Config) -> list:
    """ExampleGen -> data validation gate -> Transform -> Trainer -> Evaluator -> Pusher."""
    example_gen = _example_gen(config.data)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = LabelSchemaGen(statistics=statistics_gen.outputs["statistics"],
                                label_key=config.data.label_key).with_id("SchemaGen")
    example_validator = DataGate(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"],
        examples=example_gen.outputs["examples"], data=config.data).with_id("ExampleValidator")
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"], schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config=config_lib.to_custom_config(config, config_lib.TRANSFORM_SECTIONS))
    # Stop before Transform when the data gate fails (TFX alone would train anyway).
    transform.add_upstream_node(example_validator)
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        custom_config=config_lib.to_custom_config(config, config_lib.TRAINER_SECTIONS))
    model_resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id(RESOLVER_ID)
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],
        eval_config=eval_config.build_eval_config(config))
    pusher = AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=config.serving_model_dir))).with_id("Pusher")
    return [example_gen, statistics_gen, schema_gen, example_validator, transform, trainer,
            model_resolver, evaluator, pusher]


def create_pipeline(config: config_lib.Config,
                    metadata_connection_config: Optional[
                        metadata_store_pb2.ConnectionConfig] = None) -> tfx.dsl.Pipeline:
    """The hubtune pipeline for ``config``; runners add only their metadata/orchestration."""
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=config.pipeline_root,
        components=create_components(config),
        enable_cache=True,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.beam_args))
