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

    def check_bounds(self) -> None:
        """Offset, size and stride come from the file: every element they reach must lie
        inside the storage, or ``as_strided`` would read outside it."""
        numbers = (self.offset, *self.size, *self.stride)
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
            raise CheckpointError(f"offset {self.offset!r}, size {self.size!r} and stride "
                                  f"{self.stride!r} must be non-negative integers")
        if len(self.size) != len(self.stride):
            raise CheckpointError(f"size {self.size} and stride {self.stride} differ in length")
        length = len(self.storage.array)
        if 0 in self.size:
            last = self.offset - 1  # an empty tensor reads nothing
        else:
            last = self.offset + sum((n - 1) * s for n, s in zip(self.size, self.stride))
        if last >= length:
            raise CheckpointError(f"offset {self.offset}, size {self.size} and stride "
                                  f"{self.stride} reach element {last} of a storage of "
                                  f"{length}")

    def to_numpy(self) -> np.ndarray:
        self.check_bounds()
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
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage"
                and isinstance(pid[1], _StorageType) and isinstance(pid[4], int)):
            raise CheckpointError(f"unexpected persistent id {pid!r}")
        _, storage_type, key, _location, numel, _view = pid
        if key not in self._storages:
            self._storages[key] = _StorageRef(key, storage_type.dtype, numel)
        return self._storages[key]


def _read_pickles(stream: io.BytesIO, storages: Dict[str, _StorageRef]):
    """The legacy header, the state dict and the storage keys."""
    magic = _RestrictedUnpickler(stream, storages).load()
    if magic != LEGACY_MAGIC_NUMBER:
        raise CheckpointError("not a legacy PyTorch checkpoint (bad magic number; "
                              "zip-format checkpoints from torch>=1.6 are not supported)")
    version = _RestrictedUnpickler(stream, storages).load()
    if version != LEGACY_PROTOCOL_VERSION:
        raise CheckpointError(f"unsupported protocol version {version}")
    _RestrictedUnpickler(stream, storages).load()  # system info
    state = _RestrictedUnpickler(stream, storages).load()
    keys = _RestrictedUnpickler(stream, storages).load()
    if not isinstance(state, dict):
        raise CheckpointError("the checkpoint holds no state dict")
    if not isinstance(keys, list) or set(keys) != set(storages):
        raise CheckpointError("its storage key list does not match the tensors' storages")
    return state, keys


def _read_storages(stream: io.BytesIO, keys, storages: Dict[str, _StorageRef]) -> None:
    """Each storage: an int64 element count, then that many little-endian elements."""
    for key in keys:
        ref = storages[key]
        header = stream.read(8)
        if len(header) != 8:
            raise CheckpointError(f"truncated storage {key}")
        (numel,) = struct.unpack("<q", header)
        if numel < 0 or numel != ref.numel:
            raise CheckpointError(f"storage {key} declares {numel} elements, its tensors "
                                  f"{ref.numel}")
        nbytes = numel * ref.dtype.itemsize
        raw = stream.read(nbytes)
        if len(raw) != nbytes:
            raise CheckpointError(f"truncated storage {key}")
        ref.array = np.frombuffer(raw, dtype=ref.dtype.newbyteorder("<"))


def load_legacy_state_dict(path: str) -> "collections.OrderedDict[str, np.ndarray]":
    """Returns the checkpoint's tensors as NumPy arrays, keyed by parameter name.

    Anything wrong with the file, whatever part of it, raises ``CheckpointError``
    naming the file (and the tensor, where one is to blame)."""
    with open(path, "rb") as f:
        stream = io.BytesIO(f.read())
    storages: Dict[str, _StorageRef] = {}
    name = None
    try:
        state, keys = _read_pickles(stream, storages)
        _read_storages(stream, keys, storages)
        tensors = collections.OrderedDict()
        for name, tensor in state.items():
            if isinstance(tensor, _TensorRef):
                tensors[name] = tensor.to_numpy()
        return tensors
    except CheckpointError as e:
        where = f" (tensor {name!r})" if name is not None else ""
        raise CheckpointError(f"{path}{where}: {e}") from e
    except (pickle.UnpicklingError, EOFError) as e:
        raise CheckpointError(f"{path}: corrupt checkpoint ({e})") from e
    except Exception as e:  # noqa: BLE001 - a crafted file can raise anything; name it
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(e).__name__}: {e})") from e
