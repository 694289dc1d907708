"""TFX Trainer entry point: ``run_fn(fn_args)`` (generic Trainer)."""

import json
import os
import time

import tensorflow_transform as tft
import tf_keras as keras
from absl import logging

from pipeline import config as config_lib
from trainer_module import backbone as backbone_lib
from trainer_module import (data, embedding_cache, export, features, model, training,
                            warm_start, warmup)


def run_fn(fn_args) -> None:
    """Builds the classifier, trains both phases, exports the serving SavedModel.

    The hubtune config arrives through ``fn_args.custom_config``.  TensorBoard logs
    and ``training_history.json`` go to ``fn_args.model_run_dir``.
    """
    config = config_lib.from_custom_config(fn_args.custom_config)
    tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
    feature_spec = tf_transform_output.transformed_feature_spec()
    names = export.class_names(tf_transform_output)
    if len(names) < 2:
        raise ValueError(f"the training data has {len(names)} class(es) {names}: "
                         "a classifier needs at least 2 labels")

    files = {"train": fn_args.train_files, "eval": fn_args.eval_files}
    counts = {split: data.count_examples(f, split) for split, f in files.items()}
    for split, n in counts.items():
        if n == 0:
            raise data.EmptySplitError(f"the {split} split is empty after Transform")
    logging.info("hubtune: %s examples, classes %s", counts, names)
    images = (data.image_dataset(files["train"], "train", feature_spec, config, training=True),
              data.image_dataset(files["eval"], "eval", feature_spec, config, training=False))

    keras.utils.set_random_seed(config.train.seed)  # head init, dropout, shuffling
    strategy = training.choose_strategy()
    with strategy.scope():
        backbone = backbone_lib.load_backbone(config.backbone.handle)
        head = model.build_head(model.feature_dim(backbone, config.backbone.input_size),
                                len(names), config.head)
        classifier = model.build_classifier(backbone, head, config.backbone.input_size)
        warm_started = (config.train.warm_start
                        and warm_start.load_head(head, fn_args.base_model))
        cached, embedding = None, {}
        if config.train.cache_embeddings:
            store = embedding_cache.EmbeddingCache(
                config.train.embedding_cache_dir
                or os.path.join(fn_args.model_run_dir, "embedding_cache"),
                embedding_cache.cache_key(config.backbone.handle, config.backbone.input_size))
            arrays = []
            for split in ("train", "eval"):
                started = time.perf_counter()
                feats, labels, embedded = embedding_cache.embed_split(
                    backbone, store, files[split], split, feature_spec, config)
                arrays.append((feats, labels))
                embedding[split] = {"examples": len(labels), "embedded": embedded,
                                    "seconds": time.perf_counter() - started}
            cached = tuple(arrays)
        results = training.train_two_phases(classifier, head, backbone, images, config.train,
                                            fn_args.model_run_dir, features=cached)

    os.makedirs(fn_args.model_run_dir, exist_ok=True)
    with open(os.path.join(fn_args.model_run_dir, features.TRAINING_HISTORY_FILE), "w") as f:
        json.dump({"classes": names, "examples": counts, "embedding": embedding,
                   "warm_started": bool(warm_started),
                   "phases": [r.__dict__ for r in results]}, f, indent=1)
    export.export_serving_model(classifier, tf_transform_output, config,
                                fn_args.serving_model_dir)
    warm_start.save_head(head, fn_args.serving_model_dir)
    warmup.write_warmup_requests(
        fn_args.serving_model_dir,
        data.first_images(files["eval"], "eval", warmup.WARMUP_EXAMPLES), config.data)
    logging.info("hubtune: exported %s with signatures %s, %s", fn_args.serving_model_dir,
                 features.SERVING_EXAMPLES_SIGNATURE, features.SERVING_IMAGES_SIGNATURE)
