"""Bad text data, each refused with the file and line (or example) named and nothing
pushed: a ragged CSV row, a missing text column, bytes that are not UTF-8 (in a CSV,
and in a TFRecord, where the data gate names the example)."""

import os

import pytest
import tensorflow as tf

from tests.conftest import run_hubtune
from tests.e2e.test_text_pipeline import text_config

pytestmark = pytest.mark.e2e

GOOD_ROWS = ['"Worked, finally",positive', 'Made me dizzy,negative'] * 4


def write(path, lines):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = "\n".join(lines) + "\n"
    with open(path, "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)
    return path


def run_with(tmp_path, minilm_bert_pair, train_lines, header="review,rating", **config):
    train = write(str(tmp_path / "data" / "train.csv"), [header] + train_lines)
    evalf = write(str(tmp_path / "data" / "eval.csv"), [header] + GOOD_ROWS)
    path = text_config(str(tmp_path), *minilm_bert_pair, train, evalf, **config)
    return run_hubtune("run", "--config", path, timeout=900), train


def assert_nothing_pushed(tmp_path):
    assert not os.path.exists(tmp_path / "serving")


def test_a_ragged_csv_row_is_named_by_line(tmp_path, minilm_bert_pair):
    rows = GOOD_ROWS[:2] + ['"A quoted review,\nover two lines",positive',
                            "too,many,fields,negative"] + GOOD_ROWS
    result, train = run_with(tmp_path, minilm_bert_pair, rows)
    assert result.returncode == 2, result.stderr[-2000:]
    # header (1), two rows (2, 3), the quoted two-line row (4-5), the ragged row: line 6
    assert f"{train}, line 6: 4 fields where the header has 2" in result.stderr
    assert_nothing_pushed(tmp_path)


def test_a_missing_text_column_is_named(tmp_path, minilm_bert_pair):
    result, train = run_with(tmp_path, minilm_bert_pair, GOOD_ROWS, header="text,rating")
    assert result.returncode == 2
    assert f"{train}: no column 'review' in the header ['text', 'rating']" in result.stderr
    assert_nothing_pushed(tmp_path)


def test_csv_bytes_that_are_not_utf8_are_named_by_line(tmp_path, minilm_bert_pair):
    train = str(tmp_path / "data" / "train.csv")
    write(train, ["review,rating"] + GOOD_ROWS)
    with open(train, "ab") as f:
        f.write(b"caf\xe9 au lait,positive\n")   # Latin-1, line 10
    evalf = write(str(tmp_path / "data" / "eval.csv"), ["review,rating"] + GOOD_ROWS)
    path = text_config(str(tmp_path), *minilm_bert_pair, train, evalf)
    result = run_hubtune("run", "--config", path, timeout=900)
    assert result.returncode == 2
    assert f"{train}, line 10: not UTF-8" in result.stderr and "re-encode" in result.stderr
    assert_nothing_pushed(tmp_path)


def _text_example(text: bytes, label: str) -> bytes:
    feature = {"review": tf.train.Feature(bytes_list=tf.train.BytesList(value=[text])),
               "rating": tf.train.Feature(bytes_list=tf.train.BytesList(value=[label.encode()]))}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def test_the_data_gate_names_a_tfrecord_example_that_is_not_utf8(tmp_path, minilm_bert_pair):
    texts = [b"good stuff", b"made me sick"] * 6
    texts[5] = b"caf\xe9 bad bytes"
    labels = ["positive", "negative"] * 6
    os.makedirs(tmp_path / "data")
    for name in ("train", "eval"):
        with tf.io.TFRecordWriter(str(tmp_path / "data" / f"{name}.tfrecord")) as w:
            for text, label in zip(texts if name == "train" else texts[:4], labels):
                w.write(_text_example(text, label))
    path = text_config(str(tmp_path), *minilm_bert_pair, str(tmp_path / "data/train.tfrecord"),
                       str(tmp_path / "data/eval.tfrecord"))
    result = run_hubtune("run", "--config", path, "--set", "data.format=tfrecord", timeout=900)
    assert result.returncode != 0
    assert "split 'train', example #5 (label 'negative'): 'review' is not UTF-8" in (
        result.stderr + result.stdout)
    assert_nothing_pushed(tmp_path)
