"""Floor 1: serving hubtune models: TF Serving deployment assets, a client, a local server.

Production serving is TensorFlow Serving.  ``hubtune serve`` implements the subset
of its REST and gRPC APIs that hubtune's clients use, over the same model
directory layout, for development, tests and the demo.
"""
