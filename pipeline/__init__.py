"""hubtune's pipeline definition, configuration, runners and CLI."""

import os

# TF 2.16 ships Keras 3; TFX 1.16, TF-Hub and TFMA need Keras 2 (tf_keras).
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
# TensorFlow's C++ start-up chatter (CUDA plugin registration on CPU machines).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
