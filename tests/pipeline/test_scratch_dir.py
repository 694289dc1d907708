"""A run's temp files go to one scratch directory that is removed when the run ends.
Real TFX: a Beam executor given any beam args builds its ephemeral TFX sdist under
tempfile; with hubtune's default (none) it builds nothing."""

import glob
import os
import tempfile

import pytest
from tfx.components.statistics_gen import executor as statistics_executor
from tfx.dsl.components.base import base_beam_executor

from hubtune import config as config_lib
from hubtune.config import DEFAULT_BEAM_ARGS
from hubtune.pipeline.scratch_dir import scratch_dir


MULTI_PROCESSING = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]


def _beam_executor(beam_args) -> None:
    context = base_beam_executor.BaseBeamExecutor.Context(
        beam_pipeline_args=list(beam_args), unique_id="scratch-test")
    statistics_executor.Executor(context)


def _ephemeral_packages(root: str):
    return glob.glob(os.path.join(root, "*", "build", "tfx", "dist", "*.tar.gz"))


def test_tfx_ephemeral_package_lands_in_the_scratch_dir_and_goes_with_it(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with scratch_dir() as scratch:
        _beam_executor(MULTI_PROCESSING)
        assert _ephemeral_packages(scratch), "TFX built no ephemeral sdist: the test is moot"
        assert os.path.dirname(scratch) == str(tmp_path)
    assert not os.path.exists(scratch)
    assert _ephemeral_packages(str(tmp_path)) == []
    assert tempfile.gettempdir() == str(tmp_path)


def test_the_default_beam_args_make_tfx_package_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    _beam_executor(config_lib.Config().beam_args)
    assert config_lib.Config().beam_args == list(DEFAULT_BEAM_ARGS)
    assert _ephemeral_packages(str(tmp_path)) == []
    _beam_executor(MULTI_PROCESSING)  # the same check sees a package when one is built
    assert len(_ephemeral_packages(str(tmp_path))) == 1


def test_scratch_dir_is_removed_and_tempdir_restored_when_the_run_fails(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(RuntimeError, match="component failed"):
        with scratch_dir() as scratch:
            open(os.path.join(scratch, "partial"), "w").close()
            raise RuntimeError("component failed")
    assert not os.path.exists(scratch)
    assert os.listdir(tmp_path) == []
    assert tempfile.gettempdir() == str(tmp_path)
