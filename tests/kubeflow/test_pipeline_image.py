"""The pipeline image (kubeflow/Dockerfile) carries only the rooms that run inside
components, and they work alone.  No Docker here: the test installs exactly what the
Dockerfile copies and runs the image's own import check against that install."""

import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO, install_copy

DOCKERFILE = os.path.join(REPO, "kubeflow", "Dockerfile")
COMPONENT_ROOMS = {"hubtune", "config", "pipeline", "components", "serving", "edge",
                   "trainer_module"}
# The editable install's finder would find the missing rooms in the checkout: drop it.
WITHOUT_CHECKOUT = ("import sys; sys.meta_path[:] = [f for f in sys.meta_path "
                    "if 'editable' not in repr(f)]; ")


def _dockerfile() -> str:
    with open(DOCKERFILE) as f:
        return f.read()


def _copied() -> list:
    copied = []
    for line in _dockerfile().splitlines():
        if line.startswith("COPY "):
            copied += line.split()[1:-1]
    return copied


def test_dockerfile_uses_the_pinned_tfx_and_copies_only_existing_files():
    dockerfile = _dockerfile()
    with open(os.path.join(REPO, "requirements", "constraints.txt")) as f:
        pinned = re.search(r"^tfx==(\S+)$", f.read(), re.M)
    assert re.search(r"^ARG TFX_VERSION=(\S+)$", dockerfile, re.M).group(1) == pinned.group(1)
    assert re.search(r"^FROM gcr.io/tfx-oss-public/tfx:\$\{TFX_VERSION\}$", dockerfile, re.M)
    assert re.search(r"^ENV TF_USE_LEGACY_KERAS=1", dockerfile, re.M)
    for source in _copied():
        assert os.path.exists(os.path.join(REPO, source)), source
    with open(os.path.join(REPO, "kubeflow", "build_image.sh")) as f:
        build = f.read()
    assert "kubeflow/Dockerfile" in build and "requirements/constraints.txt" in build


def test_the_image_copies_exactly_the_component_rooms():
    rooms = {p.rstrip("/") for p in _copied() if p.endswith("/") and p != "requirements/"}
    assert rooms == COMPONENT_ROOMS


@pytest.fixture(scope="module")
def image_site(tmp_path_factory):
    files = [p for p in _copied() if not p.startswith("requirements")]
    return install_copy(files, str(tmp_path_factory.mktemp("image")))


def _python(site: str, code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", WITHOUT_CHECKOUT + code], capture_output=True,
                          text=True, cwd=site, env=dict(os.environ, PYTHONPATH=site),
                          timeout=300)


def test_the_images_own_import_check_passes_on_that_install(image_site):
    [check] = re.findall(r'python -c "([^"]+)"', _dockerfile())
    result = _python(image_site, check + "; import hubtune; print(hubtune.__file__)")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().startswith(image_site)  # not the checkout


def test_user_facing_rooms_are_not_in_the_image(image_site):
    result = _python(image_site, "import hubtune.cli")
    assert result.returncode != 0 and "No module named 'hubtune.cli'" in result.stderr


def test_the_serving_check_starts_its_server_without_the_cli_room(image_site):
    """The InfraValidator runs in the image: its server entry point must be there."""
    result = _python(image_site, "import runpy, sys; sys.argv = ['serve', '--help']; "
                     "runpy.run_module('hubtune.serving.serve_command', run_name='__main__')")
    assert "--model-base-path" in result.stdout, result.stderr[-3000:]
