"""ImportSchemaGen keyed by the schema file's content, not only its path.

TFX caches a component on its inputs and execution properties.  ImportSchemaGen has no
inputs and one property, the file's path, so after the user edits the curated schema in
place, a cached run would keep importing the old one.  This component adds the file's
SHA-256 as a property and otherwise is TFX's ImportSchemaGen (same executor and output).
"""

import hashlib

import tensorflow as tf
from tfx import types
from tfx.components.schema_gen.import_schema_gen.component import ImportSchemaGen
from tfx.dsl.components.base import base_component
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter

SCHEMA_SHA256_KEY = "schema_sha256"


def file_sha256(path: str) -> str:
    with tf.io.gfile.GFile(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class CuratedSchemaGenSpec(standard_component_specs.ImportSchemaGenSpec):
    PARAMETERS = dict(standard_component_specs.ImportSchemaGenSpec.PARAMETERS,
                      **{SCHEMA_SHA256_KEY: ExecutionParameter(type=str)})


class CuratedSchemaGen(ImportSchemaGen):
    """Imports ``schema_file`` (the user's reviewed schema); re-runs when its content changes."""

    SPEC_CLASS = CuratedSchemaGenSpec

    def __init__(self, schema_file: str):
        # BaseComponent.__init__ directly: ImportSchemaGen's would build its own spec.
        base_component.BaseComponent.__init__(self, spec=CuratedSchemaGenSpec(
            schema_file=schema_file, schema_sha256=file_sha256(schema_file),
            schema=types.Channel(type=standard_artifacts.Schema)))
