"""Floor 2: running the compiled pipeline on Kubeflow Pipelines 2.x or Vertex AI:
``submission`` (runs, recurring runs and schedules over their REST APIs).  The
pipeline image's Dockerfile and build script live beside it; compiling is
``hubtune.pipeline.kubeflow_runner``."""
