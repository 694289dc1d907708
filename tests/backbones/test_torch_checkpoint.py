"""The restricted unpickler reads the legacy PyTorch checkpoint without torch."""

import collections
import io
import os
import pickle
import struct
import sys
import types

import numpy as np
import pytest

from hubtune.backbones import hub_export, torch_checkpoint


def test_checkpoint_reads_without_torch():
    state = torch_checkpoint.load_legacy_state_dict(hub_export.pretrained_checkpoint_path())
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    params = sum(v.size for k, v in state.items() if not k.endswith("num_batches_tracked"))
    assert 4.5e6 < params < 4.8e6
    assert all(np.isfinite(v).all() for v in state.values())


def _legacy_file(tmp_path, payload: bytes) -> str:
    out = io.BytesIO()
    for obj in (torch_checkpoint.LEGACY_MAGIC_NUMBER, torch_checkpoint.LEGACY_PROTOCOL_VERSION,
                {"little_endian": True}):
        pickle.dump(obj, out, protocol=2)
    out.write(payload)
    path = tmp_path / "model.pth"
    path.write_bytes(out.getvalue())
    return str(path)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_restricted_unpickler_refuses_other_globals(tmp_path):
    path = _legacy_file(tmp_path, pickle.dumps(_Exploit(), protocol=2))
    with pytest.raises(torch_checkpoint.CheckpointError, match="does not allow"):
        torch_checkpoint.load_legacy_state_dict(path)


def test_non_legacy_file_is_rejected(tmp_path):
    path = tmp_path / "zip.pth"
    path.write_bytes(pickle.dumps(123, protocol=2))
    with pytest.raises(torch_checkpoint.CheckpointError, match="magic number"):
        torch_checkpoint.load_legacy_state_dict(str(path))


def test_truncated_checkpoint_is_reported(tmp_path):
    data = open(hub_export.pretrained_checkpoint_path(), "rb").read()
    path = tmp_path / "cut.pth"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(torch_checkpoint.CheckpointError, match="truncated"):
        torch_checkpoint.load_legacy_state_dict(str(path))


# ---- crafted checkpoints: what a hostile or damaged file can say about a tensor


class _FakeStorage:
    """Pickled as the global torch.FloatStorage (the reader's allowed storage type)."""


def _rebuild_tensor_v2(*args):  # pickled as the global torch._utils._rebuild_tensor_v2
    raise AssertionError("never called while writing")


class _Tensor:
    def __init__(self, key, offset, size, stride):
        self.key, self.args = key, (offset, size, stride)

    def __reduce__(self):
        return _rebuild_tensor_v2, (_StorageId(self.key),) + self.args + (False, {})


class _StorageId:
    def __init__(self, key):
        self.key = key


@pytest.fixture
def fake_torch(monkeypatch):
    """Modules named like torch's, so that pickle writes the globals the reader allows."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
    _FakeStorage.__module__, _FakeStorage.__qualname__ = "torch", "FloatStorage"
    _rebuild_tensor_v2.__module__, _rebuild_tensor_v2.__qualname__ = \
        "torch._utils", "_rebuild_tensor_v2"
    torch.FloatStorage, utils._rebuild_tensor_v2 = _FakeStorage, _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)


def _crafted(tmp_path, tensors: dict, storage: np.ndarray, pickled_numel=None,
             stored_numel=None) -> str:
    """A legacy checkpoint with one float32 storage '0' and ``tensors`` viewing it."""
    class Pickler(pickle.Pickler):
        def persistent_id(self, obj):
            if isinstance(obj, _StorageId):
                numel = len(storage) if pickled_numel is None else pickled_numel
                return ("storage", _FakeStorage, obj.key, "cpu", numel, None)
            return None

    out = io.BytesIO()
    for obj in (torch_checkpoint.LEGACY_MAGIC_NUMBER, torch_checkpoint.LEGACY_PROTOCOL_VERSION,
                {"little_endian": True}):
        pickle.dump(obj, out, protocol=2)
    Pickler(out, protocol=2).dump(collections.OrderedDict(
        (name, _Tensor("0", *view)) for name, view in tensors.items()))
    pickle.dump(["0"], out, protocol=2)
    out.write(struct.pack("<q", len(storage) if stored_numel is None else stored_numel))
    out.write(storage.astype("<f4").tobytes())
    path = tmp_path / "crafted.pth"
    path.write_bytes(out.getvalue())
    return str(path)


STORAGE = np.arange(12, dtype=np.float32)


def test_a_crafted_checkpoint_with_sound_views_reads_back(tmp_path, fake_torch):
    path = _crafted(tmp_path, {"w": (2, (2, 3), (3, 1)), "b": (0, (4,), (1,)),
                               "t": (10, (2,), (1,))}, STORAGE)
    state = torch_checkpoint.load_legacy_state_dict(path)
    np.testing.assert_array_equal(state["w"], [[2, 3, 4], [5, 6, 7]])
    np.testing.assert_array_equal(state["t"], [10, 11])


@pytest.mark.parametrize("view, problem", [
    ((11, (2,), (1,)), "reach element 12 of a storage of 12"),
    ((0, (3, 5), (5, 1)), "reach element 14 of a storage of 12"),
    ((0, (2,), (100,)), "reach element 100"),
    ((-4, (2,), (1,)), "non-negative integers"),
    ((0, (2,), (-1,)), "non-negative integers"),
    ((0, (2, 2), (1,)), "differ in length"),
])
def test_views_outside_their_storage_are_refused_naming_file_and_tensor(tmp_path, fake_torch,
                                                                        view, problem):
    path = _crafted(tmp_path, {"ok": (0, (2,), (1,)), "evil": view}, STORAGE)
    with pytest.raises(torch_checkpoint.CheckpointError) as raised:
        torch_checkpoint.load_legacy_state_dict(path)
    assert path in str(raised.value) and "'evil'" in str(raised.value)
    assert problem in str(raised.value)


@pytest.mark.parametrize("pickled, stored, problem", [
    (None, -1, "declares -1 elements"),
    (None, 20, "declares 20 elements"),
    (64, None, "declares 12 elements, its tensors 64"),
])
def test_storage_lengths_must_agree(tmp_path, fake_torch, pickled, stored, problem):
    path = _crafted(tmp_path, {"w": (0, (2,), (1,))}, STORAGE, pickled_numel=pickled,
                    stored_numel=stored)
    with pytest.raises(torch_checkpoint.CheckpointError, match=problem):
        torch_checkpoint.load_legacy_state_dict(path)


def test_any_other_damage_is_one_error_type_naming_the_file(tmp_path):
    path = _legacy_file(tmp_path, pickle.dumps(collections.OrderedDict(w=1), protocol=2)
                        + pickle.dumps("not a list", protocol=2))
    with pytest.raises(torch_checkpoint.CheckpointError, match="storage key list") as raised:
        torch_checkpoint.load_legacy_state_dict(path)
    assert path in str(raised.value)
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"\x80\x02K\x05\x85q\x00.")  # a valid pickle of a tuple, then nothing
    with pytest.raises(torch_checkpoint.CheckpointError, match=str(garbage)):
        torch_checkpoint.load_legacy_state_dict(str(garbage))
