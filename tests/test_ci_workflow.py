"""The example GitHub Actions workflow calls commands and targets that exist."""

import os
import re

import yaml

from hubtune.cli.parser import build_parser

from tests.conftest import REPO as ROOT
WORKFLOW = os.path.join(ROOT, ".github", "workflows", "model-gate.yml")


def _steps():
    with open(WORKFLOW) as f:
        workflow = yaml.safe_load(f)
    [job] = workflow["jobs"].values()
    return job["steps"]


def _subcommands():
    parser = build_parser()
    [sub] = [a for a in parser._actions if a.dest == "command"]
    return set(sub.choices)


def test_workflow_runs_setup_tests_pipeline_gate_and_report():
    runs = " ".join(s.get("run", "") for s in _steps())
    used = re.findall(r"\.venv/bin/hubtune (\w[\w-]*)", runs)
    assert {"demo", "gate", "report"} <= set(used)
    assert set(used) <= _subcommands()
    makefile = open(os.path.join(ROOT, "Makefile")).read()
    for target in re.findall(r"\bmake (\w[\w-]*)", runs):
        assert re.search(rf"^{target}:", makefile, re.MULTILINE), target
    python = [s["with"]["python-version"] for s in _steps()
              if s.get("uses", "").startswith("actions/setup-python")]
    assert python == ["3.10"]  # TFX 1.16 needs Python 3.10


def test_report_and_gate_outputs_are_uploaded_even_on_failure():
    [upload] = [s for s in _steps() if s.get("uses", "").startswith("actions/upload-artifact")]
    assert upload["if"] == "always()" and "gate/" in upload["with"]["path"]
    gate_dir = [s for s in _steps() if "hubtune gate" in s.get("run", "")][0]["run"]
    report = [s for s in _steps() if "hubtune report" in s.get("run", "")][0]
    assert "--output-dir gate" in gate_dir and "gate/report.html" in report["run"]
    assert report["if"] == "always()"
