"""ExampleGen for ``image_folder`` data: one sub-folder of PNG/JPEG files per class.

Each split pattern (relative to ``input_base``) is ``<folder>/*/*``; every image
it matches, ``<folder>/<class>/<file>``, becomes a tf.Example with the encoded bytes under
``image_key`` and the class folder's name under ``label_key``.  An unreadable
image stops the run with its path, before anything is written.
"""

import os
from typing import Any, Dict, List, Tuple

import apache_beam as beam
import tensorflow as tf
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.components.example_gen.component import FileBasedExampleGen
from google.protobuf import any_pb2, struct_pb2
from tfx.dsl.components.base import executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import standard_component_specs
from tfx.utils import proto_utils

from hubtune import config as config_lib

IMAGE_KEY_PROPERTY = "image_key"
LABEL_KEY_PROPERTY = "label_key"


class CorruptImageError(ValueError):
    """An input image cannot be decoded."""


def list_images(pattern: str) -> List[Tuple[str, str]]:
    """(path, class name) for every PNG/JPEG file ``pattern`` matches, sorted."""
    paths = sorted(p for p in tf.io.gfile.glob(pattern)
                   if p.lower().endswith(config_lib.IMAGE_EXTENSIONS))
    return [(p, os.path.basename(os.path.dirname(p))) for p in paths]


def image_to_example(path: str, label: str, image_key: str, label_key: str) -> tf.train.Example:
    with tf.io.gfile.GFile(path, "rb") as f:
        encoded = f.read()
    try:
        tf.io.decode_image(encoded, expand_animations=False)
    except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
        raise CorruptImageError(f"cannot decode image {path} (class '{label}'): "
                                f"{e.message.splitlines()[0]}. Fix or remove the file.") from e
    return tf.train.Example(features=tf.train.Features(feature={
        image_key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded])),
        label_key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[label.encode()])),
    }))


def _feature_keys_config(image_key: str, label_key: str) -> example_gen_pb2.CustomConfig:
    fields = struct_pb2.Struct()
    fields.update({IMAGE_KEY_PROPERTY: image_key, LABEL_KEY_PROPERTY: label_key})
    packed = any_pb2.Any()
    packed.Pack(fields)
    return example_gen_pb2.CustomConfig(custom_config=packed)


def _feature_keys(exec_properties: Dict[str, Any]) -> Dict[str, str]:
    custom = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(
        exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY], custom)
    fields = struct_pb2.Struct()
    custom.custom_config.Unpack(fields)
    return dict(fields)


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def _ImageFolderToExample(pipeline: beam.Pipeline, exec_properties: Dict[str, Any],
                          split_pattern: str) -> beam.pvalue.PCollection:
    pattern = os.path.join(exec_properties[standard_component_specs.INPUT_BASE_KEY], split_pattern)
    custom = _feature_keys(exec_properties)
    items = list_images(pattern)
    if not items:
        raise CorruptImageError(f"no <class>/<image>.png|jpg files match {pattern}")
    image_key, label_key = custom[IMAGE_KEY_PROPERTY], custom[LABEL_KEY_PROPERTY]
    return (pipeline
            | "ListImages" >> beam.Create(items)
            | "ToExample" >> beam.Map(lambda item: image_to_example(*item, image_key, label_key)))


class Executor(BaseExampleGenExecutor):
    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:
        return _ImageFolderToExample


def ImageFolderExampleGen(input_base: str, image_key: str, label_key: str,
                          **kwargs) -> FileBasedExampleGen:
    """A FileBasedExampleGen reading class sub-folders of images."""
    return FileBasedExampleGen(
        input_base=input_base,
        custom_config=_feature_keys_config(image_key, label_key),
        custom_executor_spec=executor_spec.BeamExecutorSpec(Executor),
        **kwargs)
