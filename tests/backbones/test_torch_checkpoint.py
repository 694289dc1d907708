"""The restricted unpickler reads the legacy PyTorch checkpoint without torch."""

import io
import os
import pickle

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
