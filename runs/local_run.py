"""A local pipeline run and what ML Metadata recorded of it, in one call.

The CLI, the demo, benchmarks and tests all run the pipeline this way.
"""

from hubtune import config as config_lib
from hubtune.pipeline.local_runner import run_local
from hubtune.runs import mlmd


def run(config: config_lib.Config) -> mlmd.RunOutcome:
    """Runs the pipeline locally (cached components are skipped) and returns its outcome."""
    run_local(config)
    return mlmd.run_outcome(config.metadata_path)
