"""Which variables train in each phase, and BatchNorm staying in inference mode."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from hubtune.trainer_module import backbone as backbone_lib
from hubtune.trainer_module import feature_extraction, phases
from hubtune.trainer_module import model as model_lib
from tests.conftest import make_config

SIZE = 32


def _snapshot(variables):
    return {v.name: v.numpy().copy() for v in variables}


def _changed(before, variables):
    return {v.name for v in variables if not np.allclose(before[v.name], v.numpy())}


@pytest.fixture
def setup(tiny_backbone, tmp_path):
    keras.utils.set_random_seed(0)
    config = make_config(backbone={"input_size": SIZE},
                         train={"batch_size": 8, "head_epochs": 1, "finetune_epochs": 1,
                                "finetune_fraction": 0.5, "finetune_patience": 1})
    backbone = backbone_lib.load_backbone(tiny_backbone)
    head = model_lib.build_head(model_lib.feature_dim(backbone, SIZE), 3, config.head)
    classifier = model_lib.build_classifier(backbone, head, SIZE)
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 1, (32, SIZE, SIZE, 3)).astype(np.float32)
    labels = rng.integers(0, 3, 32)
    ds = tf.data.Dataset.from_tensor_slices((images, labels)).batch(8)
    return config, backbone, head, classifier, ds, str(tmp_path)


def test_phase1_trains_only_the_head(setup):
    config, backbone, head, classifier, ds, log_dir = setup
    before = _snapshot(classifier.variables)
    phases.fit_phase(phases.PHASE_HEAD, classifier, head.trainable_variables, 1e-2, 1,
                     ds, ds, log_dir, 1)
    changed = _changed(before, classifier.variables)
    head_names = {v.name for v in head.trainable_variables}
    assert changed == head_names


def test_phase2_trains_top_fraction_and_keeps_batchnorm_statistics(setup):
    config, backbone, head, classifier, ds, log_dir = setup
    top = model_lib.top_backbone_variables(backbone, config.train.finetune_fraction)
    all_backbone = list(backbone.trainable_variables)
    assert 0 < len(top) < len(all_backbone)
    assert [v.name for v in top] == [v.name for v in all_backbone[-len(top):]]
    before = _snapshot(classifier.variables)
    phases.fit_phase(phases.PHASE_FINETUNE, classifier,
                     list(head.trainable_variables) + top, 1e-2, 1, ds, ds, log_dir, 1)
    changed = _changed(before, classifier.variables)
    assert {v.name for v in top} <= changed
    frozen = {v.name for v in all_backbone[:-len(top)]}
    assert not (frozen & changed)
    statistics = {v.name for v in backbone.non_trainable_variables}
    assert statistics and not (statistics & changed)  # BatchNorm ran in inference mode


def test_two_phases_write_tensorboard_logs_for_each(setup):
    config, backbone, head, classifier, ds, log_dir = setup
    results = phases.train_two_phases(classifier, head, backbone, (ds, ds), config.train,
                                      log_dir)
    assert [r.phase for r in results] == [phases.PHASE_HEAD, phases.PHASE_FINETUNE]
    for r in results:
        assert tf.io.gfile.glob(f"{log_dir}/{r.phase}/train/events.out.tfevents.*")
        assert "val_loss" in r.history


def test_finetune_fraction_zero_skips_phase2(setup):
    config, backbone, head, classifier, ds, log_dir = setup
    config.train.finetune_fraction = 0.0
    results = phases.train_two_phases(classifier, head, backbone, (ds, ds), config.train,
                                      log_dir)
    assert [r.phase for r in results] == [phases.PHASE_HEAD]


def test_fraction_one_selects_every_backbone_variable(setup):
    _, backbone, *_ = setup
    assert len(model_lib.top_backbone_variables(backbone, 1.0)) == \
        len(backbone.trainable_variables)


def test_early_stopping_restores_the_best_weights(setup):
    config, backbone, head, classifier, ds, log_dir = setup
    # A huge learning rate makes eval loss worse after the first epoch.
    result = phases.fit_phase(phases.PHASE_HEAD, classifier, head.trainable_variables,
                              50.0, 6, ds, ds, log_dir, 1)
    assert result.epochs_run < 6
    best = min(result.history["val_loss"])
    final = classifier.evaluate(ds, verbose=0, return_dict=True)["loss"]
    assert final == pytest.approx(best, rel=1e-3)


def test_phase1_on_cached_embeddings_trains_the_same_head(setup):
    config, backbone, head, classifier, ds, log_dir = setup
    features, labels = feature_extraction.embed(backbone, ds)
    assert features.shape == (32, model_lib.feature_dim(backbone, SIZE))
    direct = np.concatenate([backbone(x, training=False).numpy() for x, _ in ds])
    np.testing.assert_allclose(features, direct, atol=1e-5)
    before = _snapshot(classifier.variables)
    results = phases.train_two_phases(classifier, head, backbone, (ds, ds), config.train,
                                      log_dir, features=((features, labels),) * 2)
    assert [r.phase for r in results] == [phases.PHASE_HEAD, phases.PHASE_FINETUNE]
    changed = _changed(before, classifier.variables)
    # The head trained on features is the head inside the classifier.
    assert {v.name for v in head.trainable_variables} <= changed


def test_finetuning_that_does_not_beat_phase1_is_rolled_back(setup):
    config, backbone, head, classifier, ds, log_dir = setup
    features, labels = feature_extraction.embed(backbone, ds)
    # Phase 2 sees the same images with wrong eval labels: its eval loss cannot beat phase 1.
    wrong_eval = ds.map(lambda x, y: (x, (y + 1) % 3))
    top = model_lib.top_backbone_variables(backbone, config.train.finetune_fraction)
    initial_top = _snapshot(top)
    results = phases.train_two_phases(classifier, head, backbone, (ds, wrong_eval),
                                      config.train, log_dir,
                                      features=((features, labels),) * 2)
    assert results[1].phase == phases.PHASE_FINETUNE and results[1].kept is False
    assert not _changed(initial_top, top)  # phase-2 updates were undone
    final = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(
        labels, head(features, training=False))
    assert float(final) == pytest.approx(results[0].best_val_loss, rel=1e-4)


def test_a_transformer_encoder_fine_tunes_its_top_layers_whole(tmp_path):
    """By transformer layer, not by variable order; the embeddings never."""
    from hubtune.backbones import bert_encoder, minilm
    shape = bert_encoder.BertShape(vocab_size=20, hidden_size=8, num_layers=3, num_heads=2,
                                   intermediate_size=16, max_positions=16, type_vocab_size=2,
                                   layer_norm_eps=1e-12)
    encoder = bert_encoder.build_bert_encoder(shape)
    ids = tf.TensorSpec([None, None], tf.int32)
    spec = {"input_word_ids": ids, "input_mask": ids, "input_type_ids": ids}
    tf.saved_model.save(minilm.reusable_saved_model(minilm.bert_encoding(encoder), spec, encoder),
                        str(tmp_path / "encoder"))
    backbone = backbone_lib.load_backbone(str(tmp_path / "encoder"))
    per_layer = 16  # q, k, v, attention output, intermediate, output: kernel + bias; 2 norms

    def layers_of(fraction):
        top = model_lib.top_backbone_variables(backbone, fraction)
        found = {model_lib.transformer_layer_index(v.name) for v in top}
        assert len(top) == per_layer * len(found)
        return found

    assert layers_of(0.3) == {2}  # ceil(0.9) = 1 layer
    assert layers_of(0.5) == {1, 2}
    assert layers_of(1.0) == {0, 1, 2}
    assert layers_of(0.0) == set()
    assert len(backbone.trainable_variables) == 3 * per_layer + 5  # + the embeddings
