"""TFLite export on a real exported hubtune model: every variant converts with the edge
contract, matches the SavedModel, and bad input gets a clear error."""

import numpy as np
import pytest
import tensorflow as tf

from hubtune.edge import edge_metadata, interpreter, tflite_export, variant_check
from hubtune.trainer_module import warmup_requests
from tests.conftest import make_config


@pytest.fixture(scope="module")
def model(model_versions):
    return tflite_export.HubtuneModel(model_versions[0])


@pytest.fixture(scope="module")
def pixels(model, serving_images):
    data = make_config().data
    records = [warmup_requests.raw_example(im, data).SerializeToString()
               for im in serving_images]
    return tflite_export.pixels_from_records(records, data, model.input_size)


@pytest.mark.parametrize("variant", ["float16", "int8", "dynamic"])
def test_each_variant_takes_uint8_pixels_and_returns_float_scores(model, pixels, variant):
    content = tflite_export.convert(model, variant, calibration=pixels)
    runner = interpreter.make_interpreter(content)
    detail = runner.get_input_details()[0]
    assert detail["dtype"] == np.uint8
    assert list(detail["shape"]) == [1, model.input_size, model.input_size, 3]
    assert runner.get_output_details()[0]["dtype"] == np.float32
    scores = interpreter.classify(runner, pixels)
    reference = model.scores(pixels)
    assert scores.shape == reference.shape == (len(pixels), len(model.class_names))
    assert np.allclose(scores.sum(-1), 1.0, atol=1e-2)
    assert np.abs(scores - reference).max() < (0.05 if variant == "int8" else 1e-2)
    # The same file runs in LiteRT's interpreter with the same answers.
    litert = interpreter.classify(interpreter.make_interpreter(content, runtime="litert"),
                                  pixels)
    assert np.abs(litert - scores).max() < 1e-3


def test_int8_keeps_its_worst_quantizing_layers_float_on_request(model, pixels):
    full = tflite_export.convert(model, "int8", pixels, float_layers=0)
    mixed = tflite_export.convert(model, "int8", pixels, float_layers=2)
    assert full != mixed
    for content in (full, mixed):  # both keep the contract: raw uint8 pixels in
        runner = interpreter.make_interpreter(content)
        assert runner.get_input_details()[0]["dtype"] == np.uint8
        assert interpreter.classify(runner, pixels).shape == (len(pixels),
                                                              len(model.class_names))


def test_variants_are_measured_gated_and_described(model, pixels, tmp_path):
    labels = model.scores(pixels).argmax(-1)  # labels the SavedModel gets right: accuracy 1
    results = variant_check.export_and_measure(model, ["float16", "int8"], str(tmp_path),
                                               pixels, labels, pixels, float_layers=0)
    assert [r.variant for r in results] == ["float16", "int8"]
    assert all(r.saved_model_accuracy == 1.0 and r.size_bytes > 0 for r in results)
    assert results[1].size_bytes < results[0].size_bytes  # all-int8 weights are smaller
    assert variant_check.drop_problems(results, max_drop=1.0) == []
    [line, _] = variant_check.drop_problems(results, max_drop=-1.0)
    assert "TFLite variant float16 loses" in line and "-1.0000" in line
    path = edge_metadata.write(str(tmp_path), edge_metadata.build(
        "m", "7", model.input_size, tflite_export.LABELS_FILE, model.class_names,
        {r.variant: r.to_dict() for r in results}))
    back = edge_metadata.read(str(tmp_path))
    assert back["labels"] == model.class_names and back["version"] == "7"
    assert back["variants"]["int8"]["size_bytes"] == results[1].size_bytes
    open(tmp_path / "labels.txt", "w").write("other\n")
    with pytest.raises(ValueError, match="labels.txt does not match"):
        edge_metadata.read(str(tmp_path))
    assert path.endswith("metadata.json")


def test_bad_input_gets_a_clear_error(model, tmp_path):
    with pytest.raises(tflite_export.EdgeExportError, match="unknown TFLite variant 'int4'"):
        tflite_export.convert(model, "int4")
    with pytest.raises(tflite_export.EdgeExportError, match="int8 needs calibration images"):
        tflite_export.convert(model, "int8", calibration=np.zeros([0, 32, 32, 3], np.uint8))
    plain = str(tmp_path / "plain")
    module = tf.Module()
    module.f = tf.function(lambda x: x * 2, input_signature=[tf.TensorSpec([None], tf.float32)])
    tf.saved_model.save(module, plain)
    with pytest.raises(tflite_export.EdgeExportError, match="not a hubtune SavedModel"):
        tflite_export.HubtuneModel(plain)
    with pytest.raises(tflite_export.EdgeExportError, match="no saved_model.pb"):
        tflite_export.HubtuneModel(str(tmp_path))
    bad = tf.train.Example()
    bad.features.feature["label"].bytes_list.value.append(b"x")
    with pytest.raises(tflite_export.EdgeExportError, match="example #0 has no image"):
        tflite_export.pixels_from_records([bad.SerializeToString()], make_config().data, 32)


def test_a_split_is_scored_in_batches_with_the_same_scores_as_one_call(model, pixels,
                                                                       monkeypatch):
    whole = model.scores(pixels)
    monkeypatch.setattr(tflite_export, "SCORE_BATCH", 4)  # several batches, the last ragged
    assert len(pixels) > 4 and len(pixels) % 4
    batched = model.scores(pixels)
    assert batched.shape == whole.shape
    assert np.abs(batched - whole).max() < 1e-5
