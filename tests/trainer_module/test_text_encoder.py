"""The text backbone: both TF-Hub contracts through ``TextEncoder``, by-layer fine-tuning
selection, and the backbone/modality check (MiniLM exported from the PyPI package)."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_hub as hub

from hubtune import config as config_lib
from hubtune.trainer_module import backbone as backbone_lib
from hubtune.trainer_module import model, modality

TEXTS = ["The weather is lovely today.", "He drove to the stadium.", "", "café 😀"]


def text_config(handle: str, preprocessor: str = "", max_seq_length: int = 64):
    return config_lib.Config(
        data=config_lib.DataConfig(format="csv", train="x", text_key="review"),
        backbone=config_lib.BackboneConfig(handle=handle, preprocessor=preprocessor,
                                           max_seq_length=max_seq_length))


def test_the_embedding_contract_is_the_exported_model(minilm_embedding):
    encoder = modality.load_backbone(text_config(minilm_embedding))
    direct = hub.load(minilm_embedding)(tf.constant(TEXTS)).numpy()
    np.testing.assert_allclose(encoder(tf.constant(TEXTS)).numpy(), direct, atol=1e-5)


def test_the_bert_pair_contract_pools_what_the_embedding_contract_normalises(
        minilm_embedding, minilm_bert_pair):
    pair = modality.load_backbone(text_config(*minilm_bert_pair))
    pooled = pair(tf.constant(TEXTS)).numpy()
    embedded = hub.load(minilm_embedding)(tf.constant(TEXTS)).numpy()
    assert modality.feature_dim(pair, text_config(*minilm_bert_pair)) == 384
    normalised = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    np.testing.assert_allclose(normalised, embedded, atol=1e-4)


def test_max_seq_length_packs_that_many_word_pieces(minilm_bert_pair):
    encoder = backbone_lib.load_text_encoder(
        text_config(*minilm_bert_pair, max_seq_length=16).backbone)
    packed = encoder.pack([encoder.tokenize(tf.constant(["word " * 100, "hi"]))])
    assert packed["input_word_ids"].shape == (2, 16)
    assert packed["input_mask"].numpy().sum(axis=1).tolist() == [16, 3]  # [CLS] hi [SEP]


def test_fine_tuning_unfreezes_whole_top_transformer_layers(minilm_bert_pair):
    encoder = modality.load_backbone(text_config(*minilm_bert_pair))
    encoder(tf.constant(["x"]))
    top = model.top_backbone_variables(encoder, 0.34)
    layers = {model.transformer_layer_index(v.name) for v in top}
    assert layers == {3, 4, 5} and len(top) == 3 * 16


def test_a_text_classifier_scores_any_string(minilm_bert_pair):
    config = text_config(*minilm_bert_pair)
    encoder = modality.load_backbone(config)
    head = model.build_head(modality.feature_dim(encoder, config), 3, config.head)
    classifier = modality.build_classifier(encoder, head, config)
    logits = classifier(tf.constant(["", "   ", "x" * 1_000_000, "ok"])).numpy()
    assert logits.shape == (4, 3) and np.all(np.isfinite(logits))


def test_a_backbone_of_the_other_modality_is_refused(tiny_backbone, minilm_embedding,
                                                     minilm_bert_pair):
    with pytest.raises(config_lib.ConfigError, match="takes images, but the data are text"):
        backbone_lib.check_backbone_modality(text_config(tiny_backbone))
    image_config = config_lib.Config(backbone=config_lib.BackboneConfig(handle=minilm_embedding))
    with pytest.raises(config_lib.ConfigError, match="takes text, but the data are images"):
        backbone_lib.check_backbone_modality(image_config)
    with pytest.raises(config_lib.ConfigError, match="set 'backbone.preprocessor'"):
        backbone_lib.check_backbone_modality(text_config(minilm_bert_pair[0]))
    backbone_lib.check_backbone_modality(text_config(*minilm_bert_pair))  # accepted
    backbone_lib.check_backbone_modality(text_config(minilm_embedding))


def test_the_text_cache_key_covers_weights_preprocessor_and_max_seq_length(
        tmp_path, minilm_bert_pair):
    from hubtune.backbones import minilm
    from hubtune.trainer_module import embedding_cache
    random = minilm.export(str(tmp_path / "random"), "bert-pair", weights="random")
    encoder, preprocessor = minilm_bert_pair
    key = embedding_cache.text_cache_key(encoder, preprocessor, 128)
    assert key == embedding_cache.text_cache_key(encoder, preprocessor, 128)
    others = {embedding_cache.text_cache_key(random, preprocessor, 128),  # same graph
              embedding_cache.text_cache_key(encoder, preprocessor, 64),
              embedding_cache.text_cache_key(encoder, "", 128)}
    assert key not in others and len(others) == 3
