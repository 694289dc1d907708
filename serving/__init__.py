"""Serving hubtune models: TF Serving deployment assets, a client, and a local server.

Production serving is TensorFlow Serving.  ``hubtune serve`` implements the subset
of its REST and gRPC APIs that hubtune's clients use, over the same model
directory layout, for development, tests and the demo.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
