"""hubtune: a TFX pipeline that turns a pretrained backbone and a small labelled data set
into a validated model for TensorFlow Serving.

Installed, every room imports as ``hubtune.<room>``; in the repository each room is a
top-level folder (setup.py maps them).  Imports point down only (checked by the
import-linter contracts in ``.importlinter``):

    floor 3  cli        argument parsing and dispatch (thin)
             demo       demo data, demo runs, the what-transfer-bought comparison
    floor 2  gate       the CI model gate (TFX's Evaluator executor as a command)
             report     the HTML run report and its plots
             kubeflow   KFP / Vertex submission and scheduling (beside its Dockerfile)
             backbones  backbone exporters and their weight readers (never used by run_fn)
             runs       reading ML Metadata: run outcomes, run details, status
    floor 1  pipeline   create_pipeline, the Evaluator config, the local and Kubeflow runners
             components custom TFX components
             serving    TF Serving assets, client and the local development server
             trainer_module  only what runs inside Transform and the Trainer
    floor 0  config     the typed config, its annotated example.yaml, and shared names
"""

import os

# TF 2.16 ships Keras 3; TFX 1.16, TF-Hub and TFMA need Keras 2 (tf_keras).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ start-up chatter (CUDA plugin registration on CPU machines).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
