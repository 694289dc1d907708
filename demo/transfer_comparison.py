"""What transfer bought: the same head on frozen pretrained vs random backbone features.

Each backbone embeds the train and eval images once (a frozen backbone gives the
same features every epoch), then the configured head trains on those features.
"""

import os
from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf

from hubtune import config as config_lib
from hubtune.trainer_module import backbone as backbone_lib
from hubtune.trainer_module import model as model_lib
from hubtune.trainer_module import phases, preprocessing

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

    def arrays(split):
        features = embed(handle, split[0], size)
        labels = np.array([index.get(l, -1) for l in split[1]])
        keep = labels >= 0
        return features[keep], labels[keep]

    tf.keras.utils.set_random_seed(config.train.seed)
    train_xy, eval_xy = arrays(train), arrays(evaluation)
    head = model_lib.build_head(train_xy[0].shape[-1], len(classes), config.head)
    t = config.train
    result = phases.fit_head_on_features(
        f"compare_{os.path.basename(log_dir)}", head, train_xy, eval_xy, t.head_learning_rate,
        t.head_epochs, t.batch_size, t.early_stopping_patience, t.seed, log_dir)
    best = int(np.argmin(result.history["val_loss"]))  # the restored epoch
    return result.history["val_accuracy"][best]


def compare(config: config_lib.Config, handles: Dict[str, str], log_dir: str) -> Dict[str, float]:
    """{name: eval accuracy of the head on that frozen backbone}."""
    train = read_split(config.data.train, config)
    evaluation = read_split(config.data.eval, config)
    return {name: head_accuracy(handle, config, train, evaluation, f"{log_dir}/{name}")
            for name, handle in handles.items()}
