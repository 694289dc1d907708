"""A content-addressed store of frozen-backbone embeddings, shared by Trainer runs.

Where the cache lives, and why: inside ``run_fn``, in a folder beside the pipeline
(``train.embedding_cache_dir``, default ``<pipeline_root>/embedding_cache``), not
as a component whose output ML Metadata caches.  A component's cache is all or
nothing per input artifact: a retraining run on a new span (or a rolling window of
spans) gets a new Examples artifact and would embed every image again.  Keyed per
example instead, a run embeds only images it has never seen with this backbone,
and a Trainer re-run for a head or learning-rate change embeds nothing.

Keys: the folder is the backbone's identity (graph and weights), the input size, flip
averaging, a digest of the decode step's code and the cache format, so a changed
backbone or decoding never reuses stale features; inside it, each example is keyed by
the 64-bit fingerprint of its encoded image bytes.  Parts are written to a temporary name and
renamed, so a crashed run never leaves a half-written part behind; a run reads only
the rows of its own examples.
"""

import hashlib
import inspect
import io
import os
import time
import uuid
from typing import Callable, Optional, Tuple

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub
from absl import logging

from hubtune.config import names
from hubtune.trainer_module import backbone, data, export, feature_extraction, preprocessing

FORMAT_VERSION = 1
PART_PATTERN = "part-*.npz"


def backbone_identity(handle: str) -> str:
    """Graph and weights of the SavedModel behind a hub handle or local path."""
    path = handle if tf.io.gfile.isdir(handle) else hub.resolve(handle)
    return export.saved_model_identity(path)


def code_digest(function) -> str:
    """A digest of a function's code: features cached before a change to it are never
    reused after it (no version number to remember to bump)."""
    try:
        code = inspect.getsource(function).encode()
    except (OSError, TypeError):  # no source (frozen install): its bytecode then
        code = function.__code__.co_code
    return hashlib.sha256(code).hexdigest()[:8]


def preprocessing_version() -> str:
    """The decode step's digest: decoding and resizing decide the image features."""
    return code_digest(preprocessing.decode_image)


def cache_key(handle: str, input_size: int, flip_views: int = 1) -> str:
    flips = ""
    if flip_views > 1:  # what the cache stores is the flip average: a change to it is a new key
        flips = f"-flips{flip_views}x{code_digest(backbone.FlipAveragedBackbone._flip_average)}"
    return (f"{backbone_identity(handle)}-{input_size}px{flips}-decode{preprocessing_version()}"
            f"-v{FORMAT_VERSION}")


def text_cache_key(handle: str, preprocessor: str, max_seq_length: int) -> str:
    """A text encoder's folder: its graph and weights, its preprocessor's, max_seq_length
    and the text cut's code (each text is then keyed by the fingerprint of its bytes)."""
    tokens = backbone_identity(preprocessor) if preprocessor else "none"
    cut = code_digest(backbone.TextEncoder.call)
    return (f"text-{backbone_identity(handle)}-pre{tokens[:16]}-{max_seq_length}tok-cut{cut}"
            f"-v{FORMAT_VERSION}")


class EmbeddingCache:
    """Sorted (key, feature) arrays from ``<root>/<cache key>/part-*.npz``, loaded on demand:
    a lookup reads only the rows of the keys it asks for, so a run holds its own examples'
    features in memory, not every feature the cache has collected over all runs."""

    def __init__(self, root: str, key: str):
        self.folder = os.path.join(root, key)
        self.keys = np.zeros([0], np.uint64)
        self.features = None

    def _parts(self):
        for path in sorted(tf.io.gfile.glob(os.path.join(self.folder, PART_PATTERN))):
            try:
                with tf.io.gfile.GFile(path, "rb") as f:
                    yield np.load(io.BytesIO(f.read()))
            except Exception as e:  # noqa: BLE001 - an unreadable part is recomputed, not fatal
                logging.warning("hubtune: ignoring unreadable embedding cache part %s: %s",
                                path, e)

    def _merge(self, keys: np.ndarray, feats: np.ndarray) -> None:
        all_keys = np.concatenate([self.keys, keys])
        all_feats = feats if self.features is None else np.concatenate([self.features, feats])
        self.keys, first = np.unique(all_keys, return_index=True)
        self.features = all_feats[first]

    def _load(self, wanted: np.ndarray) -> None:
        """Reads the cached rows of ``wanted`` keys that are not in memory yet."""
        wanted = np.setdiff1d(wanted, self.keys)
        if not len(wanted):
            return
        for part in self._parts():
            try:
                part_keys = part["keys"]
                keep = np.isin(part_keys, wanted)
                if keep.any():
                    self._merge(part_keys[keep], part["features"][keep])
            except Exception as e:  # noqa: BLE001 - as above: recomputed, not fatal
                logging.warning("hubtune: ignoring unreadable embedding cache part: %s", e)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Row of each key in ``self.features``, or -1 when it is not cached."""
        self._load(keys)
        if not len(self.keys):
            return np.full(len(keys), -1)
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[pos] == keys, pos, -1)

    def add(self, keys: np.ndarray, feats: np.ndarray) -> None:
        """Writes a new part atomically and merges it into memory."""
        keys, first = np.unique(keys, return_index=True)
        feats = feats[first]
        tf.io.gfile.makedirs(self.folder)
        name = f"part-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}.npz"
        tmp = os.path.join(self.folder, f".{name}.incomplete")
        buffer = io.BytesIO()  # zip needs a seekable file; gs:// GFiles are not
        np.savez(buffer, keys=keys, features=feats)
        with tf.io.gfile.GFile(tmp, "wb") as f:
            f.write(buffer.getvalue())
        tf.io.gfile.rename(tmp, os.path.join(self.folder, name), overwrite=True)
        self._merge(keys, feats)


def embed_split(backbone, cache: EmbeddingCache, file_patterns, split: str, feature_spec,
                config, keys_and_labels: Optional[Tuple[np.ndarray, np.ndarray]] = None
                ) -> Tuple[np.ndarray, np.ndarray, int]:
    """(features, class ids, examples embedded now) for a split; cached examples are reused.
    ``keys_and_labels``: the split's ``data.example_keys`` when the caller has them."""
    keys, labels = keys_and_labels or data.example_keys(
        file_patterns, split, names.XF_KEYS[config.data.modality])

    def embed_missing(missing: np.ndarray) -> np.ndarray:
        inputs = data.input_dataset(file_patterns, split, feature_spec, config, training=False,
                                    select=missing)
        return feature_extraction.embed(backbone, inputs)[0]

    features, embedded = features_of(cache, keys, embed_missing)
    logging.info("hubtune: %s split: %d embeddings reused, %d computed (cache %s)", split,
                 len(keys) - embedded, embedded, cache.folder)
    return features, labels, embedded


def features_of(cache: EmbeddingCache, keys: np.ndarray,
                embed_missing: Callable[[np.ndarray], np.ndarray]) -> Tuple[np.ndarray, int]:
    """(features of ``keys`` in their order, how many were computed now): the cached rows,
    and ``embed_missing(mask)`` (features of the keys where ``mask`` is true, in order)
    for the rest, which are added to the cache."""
    rows = cache.lookup(keys)
    missing = rows < 0
    if missing.any():
        cache.add(keys[missing], embed_missing(missing))
        rows = cache.lookup(keys)
    return cache.features[rows], int(missing.sum())


def image_keys(encoded_images) -> np.ndarray:
    """The cache key of each encoded image (or text): its 64-bit fingerprint (as
    ``data.example_keys``)."""
    return tf.bitcast(tf.fingerprint(tf.constant(encoded_images)), tf.uint64).numpy()
