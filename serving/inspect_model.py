"""``hubtune inspect``: a SavedModel's signatures (names, inputs, outputs, dtypes)."""

import os
from typing import List

import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from hubtune.serving import model_store
from hubtune.trainer_module import warmup_requests


def resolve_model_dir(path: str) -> str:
    """A SavedModel dir, or the newest numeric version inside a TF Serving base path."""
    if tf.io.gfile.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = model_store.version_dirs(path)
    if not versions:
        raise FileNotFoundError(f"no SavedModel at {path} (no saved_model.pb and no "
                                "numeric version folders)")
    return versions[max(versions)]


def _shape(shape_proto) -> str:
    if shape_proto.unknown_rank:
        return "?"
    return "[" + ", ".join("batch" if d.size == -1 and i == 0 else
                           ("?" if d.size == -1 else str(d.size))
                           for i, d in enumerate(shape_proto.dim)) + "]"


def describe(model_dir: str) -> List[str]:
    model_dir = resolve_model_dir(model_dir)
    meta = saved_model_pb2.SavedModel()
    with tf.io.gfile.GFile(os.path.join(model_dir, "saved_model.pb"), "rb") as f:
        meta.ParseFromString(f.read())
    lines = [f"SavedModel: {model_dir}"]
    for name, sig in sorted(meta.meta_graphs[0].signature_def.items()):
        if name.startswith("__"):
            continue
        lines.append(f"signature '{name}' ({sig.method_name})")
        for kind, tensors in (("input ", sig.inputs), ("output", sig.outputs)):
            for key, info in sorted(tensors.items()):
                dtype = tf.dtypes.as_dtype(info.dtype).name
                lines.append(f"  {kind} {key:<16} {dtype:<8} {_shape(info.tensor_shape)}")
    logs = warmup_requests.read_warmup_requests(model_dir)
    lines.append(f"warmup requests: {len(logs)} "
                 f"({os.path.join(warmup_requests.WARMUP_DIR, warmup_requests.WARMUP_FILE)})")
    return lines
