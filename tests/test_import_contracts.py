"""The installed distribution: only ``hubtune`` at the top level, and import-linter's
contracts (``.importlinter``: rooms import downward only) hold for it.

import-linter reads an installed copy: in the editable install the rooms live in
separate folders, which grimp's package walk would not see as one tree.
"""

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO, install_copy

ROOMS = ("config", "pipeline", "components", "serving", "edge", "trainer_module", "runs", "gate",
         "report", "kubeflow", "backbones", "demo", "cli")
PROJECT = ("hubtune", *ROOMS, "setup.py", "pyproject.toml", "README.md")
LINT_IMPORTS = os.path.join(os.path.dirname(sys.executable), "lint-imports")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    return install_copy(PROJECT, str(tmp_path_factory.mktemp("dist")))


def lint_imports(site_dir: str) -> subprocess.CompletedProcess:
    return subprocess.run([LINT_IMPORTS, "--config", os.path.join(REPO, ".importlinter"),
                           "--no-cache"], capture_output=True, text=True, cwd=site_dir,
                          env=dict(os.environ, PYTHONPATH=site_dir), timeout=300)


def test_the_distribution_installs_only_hubtune(site):
    [dist_info] = [n for n in os.listdir(site) if n.endswith(".dist-info")]
    with open(os.path.join(site, dist_info, "top_level.txt")) as f:
        assert f.read().split() == ["hubtune"]
    assert sorted(os.listdir(site)) == sorted(["bin", "hubtune", dist_info])
    package = os.path.join(site, "hubtune")
    assert {n for n in os.listdir(package)
            if os.path.isdir(os.path.join(package, n)) and n != "__pycache__"} == set(ROOMS)
    assert os.path.isfile(os.path.join(package, "config", "example.yaml"))
    with open(os.path.join(site, dist_info, "entry_points.txt")) as f:
        assert "hubtune = hubtune.cli.main:main" in f.read()


def test_import_contracts_hold(site):
    result = lint_imports(site)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


def test_an_upward_import_breaks_the_contracts(tmp_path):
    """The contracts bite: the trainer code importing the report room is refused."""
    model_py = os.path.join(REPO, "trainer_module", "model.py")
    broken_site = install_copy(PROJECT, str(tmp_path))
    with open(model_py) as f:
        original = f.read()
    installed_model = os.path.join(broken_site, "hubtune", "trainer_module", "model.py")
    with open(installed_model, "w") as f:
        f.write(original + "\nfrom hubtune.report import plots  # noqa: E402,F401\n")
    result = lint_imports(broken_site)
    assert result.returncode != 0
    assert "hubtune.trainer_module.model -> hubtune.report.plots" in result.stdout
