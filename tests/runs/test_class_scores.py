"""Per-class precision, recall and F1 from the Evaluator's confusion matrix."""

import numpy as np
import pytest

from hubtune.runs.run_details import class_scores


def test_scores_follow_their_definitions():
    # rows: actual, columns: predicted
    confusion = np.array([[8, 2, 0],
                          [1, 3, 0],
                          [3, 1, 0]], dtype=float)
    pos, neg, neu = class_scores(confusion, ["pos", "neg", "neu"])
    assert (pos.precision, pos.recall) == pytest.approx((8 / 12, 8 / 10))
    assert pos.f1 == pytest.approx(2 * (8 / 12) * (8 / 10) / (8 / 12 + 8 / 10))
    assert (neg.precision, neg.recall, neg.support) == (pytest.approx(3 / 6), 0.75, 4)
    # never predicted: precision, recall and F1 are 0, not NaN
    assert (neu.precision, neu.recall, neu.f1, neu.support) == (0.0, 0.0, 0.0, 4)
