"""What transfer bought: the same head on frozen pretrained vs random backbone features.

Each backbone embeds the train and eval images once (a frozen backbone gives the
same features every epoch), then the configured head trains on those features.
"""

import os
from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf

from pipeline import config as config_lib
from trainer_module import backbone as backbone_lib
from trainer_module import model as model_lib
from trainer_module import preprocessing, training

EMBED_BATCH = 64


def read_split(pattern: str, config: config_lib.Config) -> Tuple[List[bytes], List[str]]:
    images, labels = [], []
    files = config_lib.data_files(pattern, config.data.format)
    for record in tf.data.TFRecordDataset(files):
        ex = tf.train.Example.FromString(record.numpy())
        images.append(ex.features.feature[config.data.image_key].bytes_list.value[0])
        label = ex.features.feature[config.data.label_key]
        labels.append((label.bytes_list.value[0].decode() if label.bytes_list.value
                       else str(label.int64_list.value[0])))
    return images, labels


def embed(handle: str, images: List[bytes], input_size: int) -> np.ndarray:
    layer = backbone_lib.load_backbone(handle)
    ds = (tf.data.Dataset.from_tensor_slices(images)
          .map(lambda e: preprocessing.decode_image(e, input_size),
               num_parallel_calls=tf.data.AUTOTUNE)
          .batch(EMBED_BATCH).prefetch(tf.data.AUTOTUNE))
    fn = tf.function(lambda x: layer(x, training=False))
    return np.concatenate([fn(batch).numpy() for batch in ds])


def head_accuracy(handle: str, config: config_lib.Config, train, evaluation,
                  log_dir: str) -> float:
    """Eval accuracy of the configured head trained on frozen ``handle`` features."""
    classes = sorted(set(train[1]))
    index = {c: i for i, c in enumerate(classes)}
    size = config.backbone.input_size

    def dataset(split, shuffle):
        features = embed(handle, split[0], size)
        labels = np.array([index.get(l, -1) for l in split[1]])
        keep = labels >= 0
        ds = tf.data.Dataset.from_tensor_slices((features[keep], labels[keep]))
        if shuffle:
            ds = ds.shuffle(len(labels), seed=config.train.seed)
        return ds.batch(config.train.batch_size)

    tf.keras.utils.set_random_seed(config.train.seed)
    train_ds, eval_ds = dataset(train, True), dataset(evaluation, False)
    head = model_lib.build_head(int(train_ds.element_spec[0].shape[-1]), len(classes),
                                config.head)
    training.fit_phase(f"compare_{os.path.basename(log_dir)}", head, head.trainable_variables, config.train.head_learning_rate,
                       config.train.head_epochs, train_ds, eval_ds, log_dir,
                       config.train.early_stopping_patience)
    return float(head.evaluate(eval_ds, verbose=0, return_dict=True)["accuracy"])


def compare(config: config_lib.Config, handles: Dict[str, str], log_dir: str) -> Dict[str, float]:
    """{name: eval accuracy of the head on that frozen backbone}."""
    train = read_split(config.data.train, config)
    evaluation = read_split(config.data.eval, config)
    return {name: head_accuracy(handle, config, train, evaluation, f"{log_dir}/{name}")
            for name, handle in handles.items()}
