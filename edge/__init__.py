"""Floor 1: edge deployment.  ``tflite_export`` converts a hubtune SavedModel into TFLite
variants, ``interpreter`` runs them, ``edge_metadata`` writes and reads the sidecar that
describes a variant's input and labels, and ``variant_check`` measures each variant
against the SavedModel (the accuracy gate before a push)."""
