"""`hubtune tflite export` and `hubtune predict --tflite` as a user runs them."""

import os

import tensorflow as tf

from hubtune.edge import edge_metadata, tflite_export
from hubtune.trainer_module import warmup_requests
from tests.conftest import make_config, run_hubtune


def _calibration_file(path: str, images) -> str:
    data = make_config().data
    with tf.io.TFRecordWriter(path, options="GZIP") as writer:  # as ExampleGen writes them
        for image in images:
            writer.write(warmup_requests.raw_example(image, data).SerializeToString())
    return path


def test_export_int8_then_predict_with_the_same_top_class_as_the_saved_model(
        tmp_path, model_versions, serving_images):
    calibration = _calibration_file(str(tmp_path / "train.gz"), serving_images)
    out = tmp_path / "edge"
    result = run_hubtune("tflite", "export", "--model", model_versions[0], "--quantization",
                         "int8", "--calibration-data", calibration, "--out", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert set(os.listdir(out)) == {"int8.tflite", "labels.txt", "metadata.json"}
    assert "wrote" in result.stdout and "uint8 [1, H, W, 3]" in result.stdout
    model = tflite_export.HubtuneModel(model_versions[0])
    assert edge_metadata.read(str(out))["labels"] == model.class_names
    paths = []
    for i, image in enumerate(serving_images[:3]):
        paths.append(str(tmp_path / f"{i}.png"))
        open(paths[-1], "wb").write(image)
    result = run_hubtune("predict", "--tflite", str(out / "int8.tflite"), *paths)
    assert result.returncode == 0, result.stderr[-3000:]
    pixels = tflite_export.pixels_from_records(
        [warmup_requests.raw_example(im, make_config().data).SerializeToString()
         for im in serving_images[:3]], make_config().data, model.input_size)
    expected = [model.class_names[i] for i in model.scores(pixels).argmax(-1)]
    lines = result.stdout.strip().splitlines()
    assert [line.split(": ", 1)[1].split()[0] for line in lines] == expected
    assert all(line.startswith(p) for line, p in zip(lines, paths))


def test_export_errors_name_the_problem(tmp_path, model_versions):
    result = run_hubtune("tflite", "export", "--model", model_versions[0], "--quantization",
                         "int8", "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "int8 needs calibration images" in result.stderr
    result = run_hubtune("tflite", "export", "--model", str(tmp_path), "--quantization",
                         "float16", "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "no saved_model.pb" in result.stderr
    result = run_hubtune("tflite", "export", "--model", model_versions[0], "--quantization",
                         "int4", "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "invalid choice: 'int4'" in result.stderr
    result = run_hubtune("tflite", "export", "--model", model_versions[0], "--quantization",
                         "int8", "--calibration-data", str(tmp_path / "none*.gz"),
                         "--out", str(tmp_path / "o"))
    assert result.returncode == 2 and "no files match" in result.stderr
    assert not (tmp_path / "o").exists()
