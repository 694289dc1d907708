"""The CLI console: progress lines on the terminal, framework output in the log file."""

import logging
import os
import subprocess
import sys

import tensorflow as tf

from hubtune.cli import console

SCRIPT = r"""
import logging, os, sys
from absl import logging as absl_logging
import tensorflow as tf
from hubtune.cli import console
with console.quiet_console(sys.argv[1]) as out:
    absl_logging.info("Component Trainer is running.")
    tf.saved_model.save(tf.Module(), sys.argv[2])   # resets absl verbosity to WARNING
    absl_logging.info("Component Trainer is finished.")
    logging.getLogger("hubtune").info("phase1_head epoch 1/1: loss 0.5")
    os.write(2, b"C++ runtime noise\n")
    print("python print noise")
    print("summary line", file=out)
print("after the session")
"""


def test_progress_reaches_terminal_and_noise_the_log(tmp_path):
    log = tmp_path / "hubtune.log"
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(log), str(tmp_path / "m")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(l.endswith("Trainer running ...") for l in lines)
    assert any("Trainer done (" in l for l in lines)  # survived saved_model.save
    assert any(l.endswith("phase1_head epoch 1/1: loss 0.5") for l in lines)
    assert "summary line" in lines and lines[-1] == "after the session"
    assert "noise" not in result.stdout + result.stderr
    text = log.read_text()
    assert "C++ runtime noise" in text and "python print noise" in text


def test_levels_are_restored_after_the_session(tmp_path):
    absl_logger = logging.getLogger("absl")
    before = absl_logger.level
    with console.quiet_console(str(tmp_path / "x.log"), verbose=True):
        absl_logger.setLevel(logging.ERROR)  # ignored while pinned
        assert absl_logger.level == logging.INFO
    assert absl_logger.level == before
    absl_logger.setLevel(logging.ERROR)
    assert absl_logger.level == logging.ERROR
    absl_logger.setLevel(before)
