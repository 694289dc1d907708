"""kill -9 at every step of a real `hubtune run`, then a run that completes.

Each run is a real process, killed with SIGKILL when its progress line says a step has
started.  After every kill the serving directory holds only complete versions and
`hubtune status` shows the interrupted run; the next run reuses what finished before and
the model is pushed exactly once.
"""

import json
import os
import signal
import subprocess
import time

import pytest

from hubtune.demo import elpv
from tests.conftest import HUBTUNE, REPO, majority_rate, run_hubtune

pytestmark = pytest.mark.e2e

TFLITE_FILES = {"float16.tflite", "int8.tflite", "labels.txt", "metadata.json"}
SETTINGS = ["backbone.input_size=64", "train.batch_size=16", "train.head_epochs=10",
            "train.finetune_epochs=1", "train.finetune_fraction=0.2",
            "tflite.variants=[float16,int8]", "tflite.max_accuracy_drop=0.1"]  # 29 eval images
# (progress line that triggers the kill, seconds to wait after it): one kill per step.
KILLS = [("ImportExampleGen running", 0.5), ("Transform running", 2.0),
         ("Trainer running", 3.0), ("phase1_head epoch 10/10", 1.0),
         ("Evaluator running", 3.0), ("InfraValidator running", 3.0),
         ("TFLiteExporter running", 4.0), ("AtomicPusher running", 0.0)]


def _run_and_kill(config_path: str, trigger: str, delay: float) -> bool:
    """Starts `hubtune run`; SIGKILL once ``trigger`` is printed.  True if it was killed."""
    proc = subprocess.Popen([*HUBTUNE, "run", "--config", config_path], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in proc.stdout:
            if trigger in line:
                time.sleep(delay)
                os.kill(proc.pid, signal.SIGKILL)
                return proc.wait(timeout=60) == -signal.SIGKILL
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _complete_versions_only(serving_dir: str) -> list:
    if not os.path.isdir(serving_dir):
        return []
    numbered = [n for n in os.listdir(serving_dir) if n.isdigit()]
    for name in numbered:  # whole versions, with all their TFLite files
        assert os.path.isfile(os.path.join(serving_dir, name, "saved_model.pb")), name
        assert os.path.isdir(os.path.join(serving_dir, name, "variables")), name
        assert set(os.listdir(os.path.join(serving_dir, name, "tflite"))) == TFLITE_FILES
    return sorted(numbered)


def test_kill_9_at_every_step_then_the_next_run_pushes_exactly_once(tmp_path):
    config = elpv.demo_config(str(tmp_path), limit=120, overrides=SETTINGS)
    threshold = round(majority_rate(config) + 0.03, 4)
    config = elpv.demo_config(str(tmp_path), limit=120,
                              overrides=SETTINGS + [f"eval.min_accuracy={threshold}"])
    path = os.path.join(str(tmp_path), "config.yaml")
    elpv.write_config(config, path)
    interrupted = []
    for trigger, delay in KILLS:
        assert _run_and_kill(path, trigger, delay), f"the run ended before '{trigger}'"
        versions = _complete_versions_only(config.serving_model_dir)
        # Only a kill during the push can come after the copy: then one complete version.
        assert versions == [] or (trigger.startswith("AtomicPusher") and len(versions) == 1)
        status = json.loads(run_hubtune("status", "--config", path, "--json", "--runs", "20")
                            .stdout)
        newest = status["runs"][0]
        assert newest["run_id"] not in interrupted and newest["blessed"] is not False
        interrupted.append(newest["run_id"])
    states = [{c["node_id"]: c["state"] for c in run["components"]}
              for run in status["runs"][:len(KILLS)]]
    assert any("RUNNING" in s.values() for s in states)  # killed mid-step, as recorded

    result = run_hubtune("run", "--config", path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    status = json.loads(run_hubtune("status", "--config", path, "--json", "--runs", "20").stdout)
    final = status["runs"][0]
    assert final["run_id"] not in interrupted and final["blessed"] is True
    components = {c["node_id"]: c["state"] for c in final["components"]}
    for reused in ("ImportExampleGen", "Transform", "Trainer", "InfraValidator",
                   "TFLiteExporter"):
        assert components[reused] == "CACHED", components  # finished steps were not redone
    [version] = _complete_versions_only(config.serving_model_dir)
    assert final["pushed_version"] == version  # pushed once, whenever the push was killed
