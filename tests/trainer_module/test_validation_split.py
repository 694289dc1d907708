"""The validation split: disjoint from fit, stable across runs and spans, stratified."""

import numpy as np
import tensorflow as tf

from hubtune.trainer_module import validation_split


def _keys(contents):
    return tf.bitcast(tf.fingerprint(tf.constant(contents)), tf.uint64).numpy()


def _data(n: int, seed: int = 0, defect_share: float = 0.3):
    rng = np.random.default_rng(seed)
    contents = [rng.bytes(32) for _ in range(n)]
    labels = (rng.random(n) < defect_share).astype(np.int64)
    return contents, _keys(contents), labels


def test_share_is_about_the_percentage_in_every_class():
    _, keys, labels = _data(4000)
    held_out = validation_split.validation_mask(keys, labels, 15)
    for label in (0, 1):
        share = held_out[labels == label].mean()
        assert 0.12 < share < 0.18, (label, share)


def test_membership_follows_content_not_position():
    contents, keys, labels = _data(500)
    held_out = validation_split.validation_mask(keys, labels, 15)
    order = np.random.default_rng(1).permutation(len(keys))
    shuffled = validation_split.validation_mask(keys[order], labels[order], 15)
    assert np.array_equal(shuffled, held_out[order])
    # A later span brings new examples: the old ones keep their side.
    _, new_keys, new_labels = _data(300, seed=7)
    grown = validation_split.validation_mask(np.concatenate([keys, new_keys]),
                                             np.concatenate([labels, new_labels]), 15)
    assert np.array_equal(grown[:len(keys)], held_out)


def test_fit_and_validation_are_disjoint_and_duplicates_stay_together():
    contents, keys, labels = _data(400)
    keys = np.concatenate([keys, keys[:50]])  # the same images twice
    labels = np.concatenate([labels, labels[:50]])
    held_out = validation_split.validation_mask(keys, labels, 15)
    fit_keys, validation_keys = set(keys[~held_out]), set(keys[held_out])
    assert not fit_keys & validation_keys
    assert np.array_equal(held_out[:50], held_out[400:])


def test_a_small_class_keeps_an_example_on_each_side():
    _, keys, _ = _data(40)
    labels = np.zeros(40, np.int64)
    labels[:2] = 1   # two examples of class 1
    labels[2] = 2    # a single example of class 2 stays in fit
    held_out = validation_split.validation_mask(keys, labels, 5)
    assert held_out[:2].sum() == 1
    assert not held_out[2]
    assert held_out[labels == 0].any() and not held_out[labels == 0].all()
