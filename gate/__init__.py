"""Floor 2: the CI model gate (``hubtune gate``): TFX's own Evaluator executor with the
pipeline's Evaluator config (``evaluation``), and its gate.json / gate.md (``summary``)."""
