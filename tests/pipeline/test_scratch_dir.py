"""A run's temp files go to one scratch directory that is removed when the run ends.
Real TFX: a Beam executor given beam args builds its ephemeral TFX sdist under tempfile."""

import glob
import os
import tempfile

import pytest
from tfx.components.statistics_gen import executor as statistics_executor
from tfx.dsl.components.base import base_beam_executor

from hubtune.config import DEFAULT_BEAM_ARGS
from hubtune.pipeline.scratch_dir import scratch_dir


def _beam_executor() -> None:
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=list(DEFAULT_BEAM_ARGS), unique_id="scratch-test")
    statistics_executor.Executor(context)


def _ephemeral_packages(root: str):
    return glob.glob(os.path.join(root, "*", "build", "tfx", "dist", "*.tar.gz"))


def test_tfx_ephemeral_package_lands_in_the_scratch_dir_and_goes_with_it(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with scratch_dir() as scratch:
        _beam_executor()
        assert _ephemeral_packages(scratch), "TFX built no ephemeral sdist: the test is moot"
        assert os.path.dirname(scratch) == str(tmp_path)
    assert not os.path.exists(scratch)
    assert _ephemeral_packages(str(tmp_path)) == []
    assert tempfile.gettempdir() == str(tmp_path)


def test_scratch_dir_is_removed_and_tempdir_restored_when_the_run_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(RuntimeError, match="component failed"):
        with scratch_dir() as scratch:
            open(os.path.join(scratch, "partial"), "w").close()
            raise RuntimeError("component failed")
    assert not os.path.exists(scratch)
    assert os.listdir(tmp_path) == []
    assert tempfile.gettempdir() == str(tmp_path)
