"""Floor 1: custom TFX components, hubtune's additions to the standard ones.

``image_folder_example_gen`` (ExampleGen for class-per-folder images),
``label_schema_gen`` (SchemaGen from the train split with the label domain pinned),
``blocking_example_validator`` (ExampleValidator that stops the run on bad data),
``validated_span_window`` (resolver: the last N spans that passed validation) and
``atomic_pusher`` (Pusher that never exposes a half-written version).
"""
