"""What the demos print for the Trainer's phase 2, read from its training_history.json."""

import json

from hubtune.config import names
from hubtune.runs import run_details


def _model_run(tmp_path, phases):
    (tmp_path / names.TRAINING_HISTORY_FILE).write_text(json.dumps({"phases": phases}))
    return str(tmp_path)


def test_phase2_outcome_says_whether_fine_tuning_was_kept(tmp_path):
    head = {"phase": "phase1_head", "kept": True}
    assert run_details.phase2_outcome(_model_run(tmp_path, [head])) == "head only"
    assert run_details.phase2_outcome(_model_run(
        tmp_path, [head, {"phase": "phase2_finetune", "kept": False}])) == \
        "phase 2 rolled back: head"
    assert run_details.phase2_outcome(_model_run(
        tmp_path, [head, {"phase": "phase2_finetune", "kept": True}])) == "phase 2 kept: fine-tuned"
    assert run_details.phase2_outcome(str(tmp_path / "missing")) == "head only"
