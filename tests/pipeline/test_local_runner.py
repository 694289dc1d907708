"""One run at a time per pipeline root, with a lock that a killed run cannot leave behind.
Real processes: a holder process and the real ``hubtune run`` command."""

import os
import signal
import subprocess
import sys
import time

import pytest

from hubtune.pipeline import local_runner
from tests.conftest import REPO, run_hubtune, write_yaml

HOLD = ("import sys, time; from hubtune.pipeline import local_runner\n"
        "with local_runner.exclusive_root(sys.argv[1]):\n"
        "    print('holding', flush=True); time.sleep(600)\n")


def _holder(root: str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, root], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_a_second_run_on_a_held_root_refuses_naming_the_holder(tmp_path, valid_raw):
    root = str(tmp_path / "root")
    holder = _holder(root)
    try:
        result = run_hubtune("run", "--config", write_yaml(tmp_path, valid_raw), timeout=300)
        assert result.returncode == 1
        assert f"pipeline root {root} is in use by another run" in result.stderr
        assert f"pid {holder.pid}" in result.stderr
        assert not os.path.exists(os.path.join(root, "metadata.sqlite"))  # nothing written
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_run_leaves_no_stale_lock(tmp_path):
    root = str(tmp_path / "root")
    holder = _holder(root)
    with pytest.raises(local_runner.PipelineRootBusy):
        with local_runner.exclusive_root(root):
            pass
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    started = time.monotonic()
    with local_runner.exclusive_root(root):  # free again at once
        assert time.monotonic() - started < 5
        with open(os.path.join(root, local_runner.LOCK_FILE)) as f:
            assert f"pid {os.getpid()}" in f.read()
