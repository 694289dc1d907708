"""Floor 1: the pipeline definition and its runners.

``pipeline.create_pipeline(config)`` is the one definition; ``evaluator_config`` is the
TFMA config of its Evaluator (the blessing thresholds); ``local_runner`` runs it with
LocalDagRunner and ``kubeflow_runner`` compiles it for Kubeflow Pipelines / Vertex AI.
"""
