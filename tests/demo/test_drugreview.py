"""The text demo's drug reviews and the TF-IDF baseline, on the real package data."""

import collections

import pytest

from hubtune.demo import drugreview


@pytest.fixture(scope="module")
def splits():
    return drugreview.reviews("train"), drugreview.reviews("test")


def test_reviews_are_read_clean_with_three_sentiments(splits):
    train, test = splits
    assert (len(train[0]), len(test[0])) == (600, 379)
    assert collections.Counter(test[1]) == {"positive": 248, "negative": 95, "neutral": 36}
    for text in train[0] + test[0]:
        assert text and "&#039;" not in text and "&quot;" not in text
        assert not (text.startswith('"') and text.endswith('"')), text[:80]
    assert any("'" in text for text in train[0])  # the entity became an apostrophe


def test_clean_decodes_entities_and_strips_one_pair_of_quotes():
    assert drugreview.clean('  "I&#039;m fine &amp; well"  ') == "I'm fine & well"
    assert drugreview.clean('He said "no"') == 'He said "no"'
    assert drugreview.clean('""') == ""


def test_tfidf_baseline_beats_the_majority_class_on_test(splits):
    train, test = splits
    majority = drugreview.majority_baseline(train, test)
    assert majority.chosen == {"label": "positive"}
    assert abs(majority.accuracy - 248 / 379) < 1e-9
    tfidf = drugreview.tfidf_baseline(train, test)
    # Settings come from cross-validation on train; measured here: 0.728 / 0.480.
    assert tfidf.accuracy > majority.accuracy + 0.03
    assert tfidf.macro_f1 > 0.40 > majority.macro_f1
    assert set(tfidf.chosen) == {"tfidf__ngram_range", "classifier__C",
                                 "classifier__class_weight"}
