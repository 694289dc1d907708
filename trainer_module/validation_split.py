"""The validation split: a stratified share of the train split, held out inside the Trainer
and the Tuner for every choice (early stopping, the phase-2 rollback, tuning).

Membership is decided by each example's content fingerprint, never its position: an
example whose fingerprint falls in the lowest ``percent`` of the hash range is held out,
whatever run, span or file order it arrives in, and duplicates of one image land on the
same side.  The rule is the same for every class, so each class gives about ``percent``
of its examples; a class with at least two examples always keeps one on each side.
"""

import numpy as np

HASH_BUCKETS = 10_000


def validation_mask(keys: np.ndarray, labels: np.ndarray, percent: int) -> np.ndarray:
    """A boolean per example (uint64 content fingerprints, class ids): True = validation."""
    buckets = keys % np.uint64(HASH_BUCKETS)
    held_out = buckets < np.uint64(percent * HASH_BUCKETS // 100)
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < 2:
            held_out[members] = False
            continue
        by_hash = members[np.argsort(buckets[members], kind="stable")]
        if not held_out[members].any():
            held_out[by_hash[0]] = True
        if held_out[members].all():
            held_out[by_hash[-1]] = False
    return held_out
