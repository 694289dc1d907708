"""Reads PyTorch *legacy-format* checkpoints (``torch.save`` before 1.6) without torch.

The legacy format is a sequence of pickles followed by raw tensor storages:
magic number, protocol version, system info, the state dict (tensors refer to
storages by persistent id), the list of storage keys, then each storage as an
int64 element count and its little-endian bytes.  Only the few globals such a
state dict needs are allowed: never plain ``pickle.load`` on a downloaded file.
"""

import collections
import io
import pickle
import struct
from typing import Dict

import numpy as np

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL_VERSION = 1001

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


class CheckpointError(ValueError):
    """The file is not a PyTorch legacy checkpoint this reader accepts."""


class _StorageType:
    def __init__(self, name: str):
        self.dtype = np.dtype(_STORAGE_DTYPES[name])


class _StorageRef:
    """Placeholder for a storage whose bytes follow the pickles."""

    def __init__(self, key: str, dtype: np.dtype, numel: int):
        self.key, self.dtype, self.numel = key, dtype, numel
        self.array = None


class _TensorRef:
    def __init__(self, storage: _StorageRef, offset: int, size, stride):
        self.storage, self.offset = storage, offset
        self.size, self.stride = tuple(size), tuple(stride)

    def to_numpy(self) -> np.ndarray:
        flat = self.storage.array
        if not self.size:
            return flat[self.offset].copy()
        itemsize = flat.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(
            flat[self.offset:],
            shape=self.size,
            strides=[s * itemsize for s in self.stride],
        )
        return np.ascontiguousarray(view)


def _rebuild_tensor(storage, storage_offset, size, stride, *unused_args):
    return _TensorRef(storage, storage_offset, size, stride)


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that resolves only the globals a plain state dict uses."""

    def __init__(self, file, storages: Dict[str, _StorageRef]):
        super().__init__(file)
        self._storages = storages

    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise CheckpointError(
            f"checkpoint needs the global {module}.{name}, which this reader "
            "does not allow (only plain tensor state dicts are accepted)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise CheckpointError(f"unexpected persistent id {pid!r}")
        _, storage_type, key, _location, numel, _view = pid
        if key not in self._storages:
            self._storages[key] = _StorageRef(key, storage_type.dtype, numel)
        return self._storages[key]


def load_legacy_state_dict(path: str) -> "collections.OrderedDict[str, np.ndarray]":
    """Returns the checkpoint's tensors as NumPy arrays, keyed by parameter name."""
    with open(path, "rb") as f:
        data = f.read()
    stream = io.BytesIO(data)
    storages: Dict[str, _StorageRef] = {}
    try:
        magic = _RestrictedUnpickler(stream, storages).load()
        if magic != LEGACY_MAGIC_NUMBER:
            raise CheckpointError(
                f"{path}: not a legacy PyTorch checkpoint (bad magic number; "
                "zip-format checkpoints from torch>=1.6 are not supported)")
        version = _RestrictedUnpickler(stream, storages).load()
        if version != LEGACY_PROTOCOL_VERSION:
            raise CheckpointError(f"{path}: unsupported protocol version {version}")
        _RestrictedUnpickler(stream, storages).load()  # system info
        state = _RestrictedUnpickler(stream, storages).load()
        keys = _RestrictedUnpickler(stream, storages).load()
    except (pickle.UnpicklingError, EOFError) as e:
        raise CheckpointError(f"{path}: corrupt checkpoint ({e})") from e
    for key in keys:
        ref = storages[key]
        (numel,) = struct.unpack("<q", stream.read(8))
        nbytes = numel * ref.dtype.itemsize
        raw = stream.read(nbytes)
        if len(raw) != nbytes:
            raise CheckpointError(f"{path}: truncated storage {key}")
        ref.array = np.frombuffer(raw, dtype=ref.dtype.newbyteorder("<"))
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: the checkpoint holds no state dict")
    return collections.OrderedDict(
        (name, t.to_numpy()) for name, t in state.items() if isinstance(t, _TensorRef))
