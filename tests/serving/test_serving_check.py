"""The serving check (InfraValidator stand-in): real ``hubtune serve`` processes on loopback,
real exported models; a model that exports but would not serve is not blessed."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from hubtune.config import names
from hubtune.serving import op_registry, serving_check
from hubtune.trainer_module import warmup_requests
from tests.conftest import make_config

NOT_SERVED_OP = "TFText>RoundRobinTrim"  # added after TF Text 2.12: TF Serving lacks it


def _requests(serving_images):
    data = make_config().data
    examples = [warmup_requests.raw_example(im, data).SerializeToString()
                for im in serving_images[:3]]
    return serving_check.requests_from_examples(examples, data)


def _with_op_renamed(model_dir: str, out: str, old: str, new: str) -> str:
    """A copy of the model whose function library calls op type ``new`` instead of ``old``."""
    shutil.copytree(model_dir, out)
    proto = saved_model_pb2.SavedModel()
    path = os.path.join(out, "saved_model.pb")
    proto.ParseFromString(open(path, "rb").read())
    renamed = 0
    for function in proto.meta_graphs[0].graph_def.library.function:
        for node in function.node_def:
            if node.op == old:
                node.op, renamed = new, renamed + 1
    assert renamed
    open(path, "wb").write(proto.SerializeToString())
    return out


def test_a_servable_model_is_blessed_after_rest_and_grpc_on_every_signature(
        model_versions, serving_images):
    result = serving_check.check_candidate(model_versions[0], _requests(serving_images))
    assert result.blessed, result.reason
    assert any("AVAILABLE" in c for c in result.checked)
    for signature in (names.SERVING_EXAMPLES_SIGNATURE, names.SERVING_IMAGES_SIGNATURE):
        assert any(f"'{signature}': 3 requests" in c for c in result.checked)


def test_op_types_are_walked_in_graph_and_functions_and_checked_against_core_tf(
        model_versions, tmp_path):
    ops = op_registry.saved_model_op_types(model_versions[0])
    assert {"StatefulPartitionedCall", "ParseExample", "DecodePng"} & ops
    assert op_registry.unservable_ops(model_versions[0]) == []
    odd = _with_op_renamed(model_versions[0], str(tmp_path / "odd"), "Softmax", NOT_SERVED_OP)
    assert op_registry.unservable_ops(odd) == [NOT_SERVED_OP]
    assert op_registry.unservable_ops(odd, allowed=[NOT_SERVED_OP]) == []
    result = serving_check.check_candidate(odd, {})
    assert not result.blessed and NOT_SERVED_OP in result.reason


def test_failing_warmup_requests_block_the_model(model_versions, serving_images, tmp_path):
    broken = str(tmp_path / "broken")
    shutil.copytree(model_versions[0], broken)
    logs = warmup_requests.warmup_logs(serving_images[:1], make_config().data)
    logs[0].predict_log.request.model_spec.signature_name = "no_such_signature"
    path = os.path.join(broken, warmup_requests.WARMUP_DIR, warmup_requests.WARMUP_FILE)
    with tf.io.TFRecordWriter(path) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    result = serving_check.check_candidate(broken, _requests(serving_images))
    assert not result.blessed
    assert "failed to load" in result.reason and "no_such_signature" in result.reason


def test_a_signature_missing_outputs_blocks_the_model(serving_images, tmp_path):
    """Exports and loads fine, but a client reading class_ids and classes would break."""
    def scores_only(input_name):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name=input_name)])
        def serve(values):
            return {names.SCORES_OUTPUT: tf.fill([tf.shape(values)[0], 2], 0.5)}
        return serve.get_concrete_function()

    export_dir = str(tmp_path / "scores_only")
    tf.saved_model.save(tf.Module(), export_dir, signatures={
        names.SERVING_EXAMPLES_SIGNATURE: scores_only(names.EXAMPLES_INPUT),
        names.SERVING_IMAGES_SIGNATURE: scores_only(names.IMAGES_INPUT)})
    result = serving_check.check_candidate(export_dir, _requests(serving_images))
    assert not result.blessed
    assert "class_ids, classes missing" in result.reason


def test_answers_that_are_not_probabilities_are_refused():
    good = {names.SCORES_OUTPUT: np.array([[0.2, 0.8]]), names.CLASS_IDS_OUTPUT: np.array([1]),
            names.CLASSES_OUTPUT: np.array([b"b"])}
    serving_check.check_answer("REST 'x'", good, 1)
    with pytest.raises(serving_check.NotServable, match="1 rows for 2 requests"):
        serving_check.check_answer("REST 'x'", good, 2)
    bad = dict(good, **{names.SCORES_OUTPUT: np.array([[3.0, -1.0]])})
    with pytest.raises(serving_check.NotServable, match="not probabilities"):
        serving_check.check_answer("REST 'x'", bad, 1)
