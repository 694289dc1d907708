"""Floor 2: backbone exporters and the weight readers they need.

They write pretrained networks shipped by packages as TF-Hub SavedModels that
``backbone.handle`` can name (``hubtune backbone export``).  Used by the CLI, the
demo and tests, never by ``run_fn``, which loads any hub handle the same way.
"""
