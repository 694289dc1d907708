"""Runs the pipeline locally: LocalDagRunner, SQLite ML Metadata, Beam DirectRunner."""

import os

from tfx import v1 as tfx

from components.data_gate import DataValidationError
from pipeline import config as config_lib
from pipeline import metadata
from pipeline.pipeline import create_pipeline


class PipelineRunError(RuntimeError):
    """A component failed; the message says which problem, without the TFX traceback."""


def _root_cause(error: BaseException, wanted) -> BaseException:
    seen = error
    while seen is not None:
        if isinstance(seen, wanted):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def run_local(config: config_lib.Config) -> metadata.RunOutcome:
    """Runs the whole pipeline (cached components are skipped) and returns its outcome."""
    os.makedirs(config.pipeline_root, exist_ok=True)
    pipeline = create_pipeline(config, metadata.connection_config(config.metadata_path))
    try:
        tfx.orchestration.LocalDagRunner().run(pipeline)
    except Exception as e:  # the data gate's message is the one users need
        gate = _root_cause(e, DataValidationError)
        if gate is not None:
            raise PipelineRunError(str(gate)) from e
        raise
    return metadata.run_outcome(config.metadata_path)
