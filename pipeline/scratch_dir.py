"""A run's scratch directory: Python temp files made during a local run are removed with it.

TFX's Beam executors, given any ``beam_pipeline_args``, repackage the installed TFX as an
sdist in a fresh ``tempfile.mkdtemp()`` (``tfx.utils.dependency_utils``) for remote Beam
workers, and never remove it: about 50 MB per Beam component per run.  A local
DirectRunner does not need it, and over a few dozen runs it filled this machine's disk.
Inside ``scratch_dir()`` Python's temp files go to one directory that is removed when the
run ends, however it ends.
"""

import contextlib
import shutil
import tempfile
from typing import Iterator

PREFIX = "hubtune-scratch-"


@contextlib.contextmanager
def scratch_dir() -> Iterator[str]:
    """Points ``tempfile`` at a fresh directory for the block, then restores it and removes it."""
    directory = tempfile.mkdtemp(prefix=PREFIX)
    previous = tempfile.tempdir
    tempfile.tempdir = directory
    try:
        yield directory
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(directory, ignore_errors=True)
