"""Runs the pipeline locally: LocalDagRunner, SQLite ML Metadata, Beam DirectRunner.

One run at a time per pipeline root: a second ``hubtune run`` on the same root would be
a second writer on its SQLite ML Metadata and its component outputs, so it refuses,
naming the run that holds the root.  The lock is an ``flock`` on a file in the root,
released by the kernel when its process ends, however it ends (even ``kill -9``).
"""

import contextlib
import datetime
import fcntl
import os
import socket
import sys
from typing import Iterator

from tfx import v1 as tfx

from hubtune import config as config_lib
from hubtune.components.atomic_pusher import PushError
from hubtune.components.blocking_example_validator import DataValidationError
from hubtune.pipeline.pipeline import create_pipeline
from hubtune.pipeline.scratch_dir import scratch_dir
from hubtune.trainer_module import backbone

LOCK_FILE = "hubtune.lock"


class PipelineRunError(RuntimeError):
    """A component failed; the message says which problem, without the TFX traceback."""


class PipelineRootBusy(PipelineRunError):
    """Another run holds the pipeline root."""


def _root_cause(error: BaseException, wanted) -> BaseException:
    seen = error
    while seen is not None:
        if isinstance(seen, wanted):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _holder_description() -> str:
    started = datetime.datetime.now().isoformat(timespec="seconds")
    return (f"pid {os.getpid()} on {socket.gethostname()}, started {started}: "
            f"{' '.join(sys.argv)[:300]}")


@contextlib.contextmanager
def exclusive_root(pipeline_root: str) -> Iterator[None]:
    """Holds the pipeline root for this process, or raises PipelineRootBusy naming the holder."""
    os.makedirs(pipeline_root, exist_ok=True)
    path = os.path.join(pipeline_root, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 4096).decode(errors="replace").strip() or "unknown process"
        os.close(fd)
        raise PipelineRootBusy(
            f"pipeline root {pipeline_root} is in use by another run ({holder}); two runs "
            "on one root would both write its ML Metadata. Wait for that run to finish "
            "(`hubtune status` shows it) or give this one another pipeline_root.") from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, _holder_description().encode())
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def run_local(config: config_lib.Config) -> None:
    """Runs the whole pipeline (cached components are skipped); ML Metadata records it.
    A backbone that does not fit the data's modality is refused before anything runs;
    the run's Python temp files are removed when it ends (see scratch_dir)."""
    backbone.check_backbone_modality(config)
    with exclusive_root(config.pipeline_root), scratch_dir():
        connection = tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.metadata_path)
        pipeline = create_pipeline(config, connection)
        try:
            tfx.orchestration.LocalDagRunner().run(pipeline)
        except Exception as e:  # the validator's or the pusher's message is what users need
            cause = _root_cause(e, (DataValidationError, PushError))
            if cause is not None:
                raise PipelineRunError(str(cause)) from e
            raise
