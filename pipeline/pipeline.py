"""``create_pipeline(config)``: the one hubtune pipeline definition, for every runner."""

import dataclasses
import glob
import os
from typing import List, Optional, Tuple

from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.proto import example_gen_pb2, transform_pb2

from hubtune import config as config_lib
from hubtune.components.atomic_pusher import AtomicPusher
from hubtune.components.blocking_example_validator import BlockingExampleValidator
from hubtune.components.curated_schema_gen import CuratedSchemaGen
from hubtune.components.edge_exporter import EdgeExporter
from hubtune.components.image_folder_example_gen import ImageFolderExampleGen
from hubtune.components.label_schema_gen import LabelSchemaGen
from hubtune.components.serving_validator import ServingValidator
from hubtune.components.trial_table_tuner import TrialTableTuner
from hubtune.components.validated_span_window import (LatestValidatedStrategy,
                                                      ValidatedSpanWindowStrategy)
from hubtune.pipeline import evaluator_config

PREPROCESSING_FN = "hubtune.trainer_module.preprocessing_fn"
RUN_FN = "hubtune.trainer_module.run_fn"
TUNER_FN = "hubtune.trainer_module.tuner.tuner_fn"
TRAIN_SPLIT = "train"
# Node ids: standard components keep TFX's, custom ones their own.
TUNER_ID = "Tuner"
SCHEMA_GEN_ID = "LabelSchemaGen"
CURATED_SCHEMA_ID = "ImportSchemaGen"
VALIDATOR_ID = "BlockingExampleValidator"
TRAINER_ID = "Trainer"
EVALUATOR_ID = "Evaluator"
# The serving check before the Pusher (TFX's InfraValidator role).  Kubeflow runs the same
# component in the pipeline image: TFX 1.16's Kubeflow V2 compiler refuses TFX's own
# InfraValidator (NotImplementedError in tfx/orchestration/kubeflow/v2/step_builder.py).
INFRA_VALIDATOR_ID = "InfraValidator"
EDGE_EXPORTER_ID = "TFLiteExporter"
PUSHER_ID = "AtomicPusher"
RESOLVER_ID = "latest_blessed_model_resolver"
SPAN_RESOLVER_ID = "span_window_resolver"
CACHE_RESOLVER_ID = "latest_transform_cache_resolver"
PREVIOUS_STATISTICS_RESOLVER_ID = "latest_validated_statistics_resolver"


def _split_base(path: str) -> Tuple[str, str]:
    """'gs://b/data/x*.tfr' -> ('gs://b/data', 'x*.tfr'), keeping URL schemes intact."""
    head, _, tail = path.rstrip("/").rpartition("/")
    return head, tail


def _common_base(dirs: List[str]) -> str:
    """The longest shared folder, stopping before any ``{SPAN}``-style placeholder."""
    parts = [d.split("/") for d in dirs]
    common = []
    for segment in zip(*parts):
        if len(set(segment)) != 1 or "{" in segment[0]:
            break
        common.append(segment[0])
    return "/".join(common) or "/"


def _split_pattern(value: str, data_format: str) -> str:
    """The glob ExampleGen fingerprints: every image, or every data file."""
    if data_format == "image_folder":
        return config_lib.image_folder_pattern(value)
    if not config_lib.is_remote(value) and any(
            os.path.isdir(p) for p in glob.glob(value.replace(config_lib.SPAN, "*"))):
        return value.rstrip("/") + "/*"  # a folder (per span): every file in it
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
    if data.format == "csv":
        return tfx.components.CsvExampleGen(input_base=base, input_config=input_config,
                                            output_config=output_config)
    return tfx.components.ImportExampleGen(input_base=base, input_config=input_config,
                                           output_config=output_config)


def _training_window(config: config_lib.Config, example_gen, example_validator):
    """What Transform reads: the latest span (ExampleGen's output), or the last
    ``data.span_window`` spans that passed data validation, then with Transform's
    analyzer cache from the previous run (reused for spans it has already analysed)."""
    if config.data.span_window <= 1:
        return example_gen.outputs["examples"], None, []
    spans = tfx.dsl.Resolver(
        strategy_class=ValidatedSpanWindowStrategy,
        config={"num_spans": config.data.span_window},
        examples=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Examples,
                                 producer_component_id=example_gen.id,
                                 output_key="examples"),
    ).with_id(SPAN_RESOLVER_ID)
    spans.add_upstream_node(example_validator)  # this run's span has passed validation
    cache = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestArtifactStrategy,
        cache=tfx.dsl.Channel(type=tfx.types.standard_artifacts.TransformCache),
    ).with_id(CACHE_RESOLVER_ID)
    return spans.outputs["examples"], cache.outputs["cache"], [spans, cache]


def _with_cache_path(config: config_lib.Config) -> config_lib.Config:
    """The Trainer gets the embedding cache folder spelled out (it does not see the root)."""
    train = dataclasses.replace(config.train, embedding_cache_dir=config.embedding_cache_path)
    return dataclasses.replace(config, train=train)


def _data_validation(data: config_lib.DataConfig, example_gen) -> list:
    """[StatisticsGen, the schema, the blocking validator, ...]: with ``data.schema`` the
    curated schema is imported and the label distribution compared with the last validated
    run's (resolved before this run's statistics exist); without, a schema is inferred."""
    examples = example_gen.outputs["examples"]
    if not data.schema:
        statistics_gen = tfx.components.StatisticsGen(examples=examples)
        schema_gen = LabelSchemaGen(statistics=statistics_gen.outputs["statistics"],
                                    label_key=data.label_key,
                                    text_key=data.text_key or "").with_id(SCHEMA_GEN_ID)
        validator = BlockingExampleValidator(
            statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"],
            examples=examples, data=data).with_id(VALIDATOR_ID)
        return [statistics_gen, schema_gen, validator]
    schema_gen = CuratedSchemaGen(schema_file=data.schema).with_id(CURATED_SCHEMA_ID)
    previous = tfx.dsl.Resolver(
        strategy_class=LatestValidatedStrategy,
        statistics=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ExampleStatistics,
                                   producer_component_id="StatisticsGen",
                                   output_key="statistics"),
    ).with_id(PREVIOUS_STATISTICS_RESOLVER_ID)
    # The schema makes int labels categorical in the statistics, as the comparator needs.
    statistics_gen = tfx.components.StatisticsGen(examples=examples,
                                                  schema=schema_gen.outputs["schema"])
    statistics_gen.add_upstream_node(previous)
    validator = BlockingExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"],
        examples=examples, data=data,
        previous_statistics=previous.outputs["statistics"]).with_id(VALIDATOR_ID)
    return [statistics_gen, schema_gen, validator, previous]


def _train_split_args() -> dict:
    """train_args and eval_args of the Tuner and the Trainer: both read the train split only
    and carve the validation split from it (``trainer_module.validation_split``)."""
    return {"train_args": tfx.proto.TrainArgs(splits=[TRAIN_SPLIT]),
            "eval_args": tfx.proto.EvalArgs(splits=[TRAIN_SPLIT])}


def _tuner(config: config_lib.Config, transform, schema_gen):
    """TFX's Tuner (``tuner_fn``): backbone and head chosen on cached embeddings."""
    return TrialTableTuner(
        tuner_fn=TUNER_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        **_train_split_args(),
        custom_config=config_lib.to_custom_config(_with_cache_path(config),
                                                  config_lib.TRAINER_SECTIONS)).with_id(TUNER_ID)


def create_components(config: config_lib.Config) -> list:
    """ExampleGen -> blocking data validation -> Transform -> [Tuner] -> Trainer -> Evaluator
    -> InfraValidator -> [TFLiteExporter] -> Pusher."""
    example_gen = _example_gen(config.data)
    validation_nodes = _data_validation(config.data, example_gen)
    _, schema_gen, example_validator = validation_nodes[:3]
    training_examples, analyzer_cache, extra_nodes = _training_window(
        config, example_gen, example_validator)
    # Transform writes the train split only: the eval split is read by the Evaluator alone,
    # so nothing that makes a choice (the Tuner, the Trainer) can see it.
    transform = tfx.components.Transform(
        examples=training_examples, schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN, analyzer_cache=analyzer_cache,
        splits_config=transform_pb2.SplitsConfig(analyze=[TRAIN_SPLIT],
                                                 transform=[TRAIN_SPLIT]),
        custom_config=config_lib.to_custom_config(config, config_lib.TRANSFORM_SECTIONS))
    # Stop before Transform when data validation fails (TFX alone would train anyway).
    transform.add_upstream_node(example_validator)
    model_resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id(RESOLVER_ID)
    tuner = _tuner(config, transform, schema_gen) if config.tune.enabled else None
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        base_model=model_resolver.outputs["model"] if config.train.warm_start else None,
        hyperparameters=tuner.outputs["best_hyperparameters"] if tuner else None,
        **_train_split_args(),
        custom_config=config_lib.to_custom_config(_with_cache_path(config),
                                                  config_lib.TRAINER_SECTIONS))
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=model_resolver.outputs["model"],
        eval_config=evaluator_config.build_eval_config(config))
    infra_validator = ServingValidator(
        model=trainer.outputs["model"], examples=example_gen.outputs["examples"],
        data=config.data, model_blessing=evaluator.outputs["blessing"]).with_id(INFRA_VALIDATOR_ID)
    edge = [EdgeExporter(model=trainer.outputs["model"], examples=example_gen.outputs["examples"],
                         config=config, model_blessing=evaluator.outputs["blessing"]
                         ).with_id(EDGE_EXPORTER_ID)] if config.tflite.variants else []
    for node in edge:  # after the serving check: one order on every runner
        node.add_upstream_node(infra_validator)
    pusher = AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        infra_blessing=infra_validator.outputs["blessing"],
        tflite_models=edge[0].outputs["tflite_models"] if edge else None,
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=config.serving_model_dir))).with_id(PUSHER_ID)
    return [example_gen, *validation_nodes, *extra_nodes, transform, model_resolver,
            *([tuner] if tuner else []), trainer, evaluator, infra_validator, *edge, pusher]


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
