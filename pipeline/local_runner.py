"""Runs the pipeline locally: LocalDagRunner, SQLite ML Metadata, Beam DirectRunner."""

import os

from tfx import v1 as tfx

from hubtune import config as config_lib
from hubtune.components.blocking_example_validator import DataValidationError
from hubtune.pipeline.pipeline import create_pipeline


class PipelineRunError(RuntimeError):
    """A component failed; the message says which problem, without the TFX traceback."""


def _root_cause(error: BaseException, wanted) -> BaseException:
    seen = error
    while seen is not None:
        if isinstance(seen, wanted):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def run_local(config: config_lib.Config) -> None:
    """Runs the whole pipeline (cached components are skipped); ML Metadata records it."""
    os.makedirs(config.pipeline_root, exist_ok=True)
    connection = tfx.orchestration.metadata.sqlite_metadata_connection_config(
        config.metadata_path)
    pipeline = create_pipeline(config, connection)
    try:
        tfx.orchestration.LocalDagRunner().run(pipeline)
    except Exception as e:  # the data validator's message is the one users need
        cause = _root_cause(e, DataValidationError)
        if cause is not None:
            raise PipelineRunError(str(cause)) from e
        raise
