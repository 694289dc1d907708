"""``hubtune demo --task text``: 3-class sentiment of drug reviews, with MiniLM, end to end.

Writes the reviews as CSV (train: 600, eval: the 379 test reviews, which only the
Evaluator and the final scoring read), exports MiniLM as a TF-Hub BERT encoder and
preprocessor (pretrained, and randomly initialised for the comparison), runs the
pipeline, then prints on the test split, side by side: the majority class, TF-IDF +
logistic regression (settings by cross-validation on train), hubtune's head on the frozen
encoder, the pipeline's model (phase 2 fine-tunes the top transformer layers), and the
random encoder with the same head.  Nothing is chosen on the test split.
"""

import os
import time
from typing import Dict, List, Tuple

import tensorflow as tf

from hubtune import config as config_lib
from hubtune.backbones import minilm
from hubtune.config import names
from hubtune.demo import drugreview, text_transfer
from hubtune.runs import local_run, mlmd, run_details, status
from hubtune.trainer_module import hyperparameters

# The demo's settings; everything else is the config's default.  Chosen before looking at
# the test split: BERT fine-tuning's usual learning rate (3e-5), class weights for the
# rare neutral class, the top half of the encoder; the Tuner picks the head on cached
# embeddings by validation loss.  The Evaluator blesses a model only above the train
# split's majority-class share (what always answering "positive" scores).
SETTINGS = {
    "backbone": {"max_seq_length": 128},
    "tune": {"max_trials": 10},
    "train": {"class_weights": "auto", "finetune_epochs": 3, "finetune_fraction": 0.5,
              "finetune_lr_factor": 0.03, "finetune_patience": 1, "batch_size": 32},
}
TARGETS = {"accuracy": 0.72, "macro_f1": 0.52}
PREDICT_BATCH = 32


def prepare(workdir: str, overrides=()) -> config_lib.Config:
    """The CSV data, the MiniLM exports and the demo config (written beside them)."""
    data_dir = os.path.join(workdir, "data")
    train_csv = drugreview.write_csv(os.path.join(data_dir, "train.csv"),
                                     *drugreview.reviews("train"))
    eval_csv = drugreview.write_csv(os.path.join(data_dir, "eval.csv"),
                                    *drugreview.reviews("test"))
    labels = drugreview.reviews("train")[1]
    majority_share = max(labels.count(c) for c in set(labels)) / len(labels)
    encoder = export_once(os.path.join(workdir, "backbones", "minilm-l6"), "pretrained")
    raw = {"pipeline_name": "hubtune-text-demo",
           "pipeline_root": os.path.join(workdir, "pipeline_root"),
           "data": {"format": "csv", "train": train_csv, "eval": eval_csv,
                    "text_key": drugreview.TEXT_COLUMN, "label_key": drugreview.LABEL_COLUMN},
           "backbone": {"handle": encoder, "preprocessor": preprocessor_of(encoder),
                        **SETTINGS["backbone"]},
           "train": dict(SETTINGS["train"]), "tune": dict(SETTINGS["tune"]),
           "eval": {"min_accuracy": round(majority_share, 4)},
           "serving": {"base_dir": os.path.join(workdir, "serving"),
                       "model_name": "drugreview"}}
    return config_lib.from_dict(config_lib.apply_overrides(raw, overrides))


def export_once(out_dir: str, weights: str) -> str:
    """MiniLM as a BERT encoder + preprocessor under ``out_dir`` (kept between runs)."""
    encoder = os.path.join(out_dir, "encoder")
    if not os.path.isfile(os.path.join(encoder, "saved_model.pb")):
        minilm.export(out_dir, "bert-pair", weights=weights)
    return encoder


def preprocessor_of(encoder: str) -> str:
    return os.path.join(os.path.dirname(encoder), "preprocessor")


def model_scores(model_dir: str, test: Tuple[List[str], List[str]]) -> drugreview.Scores:
    """A trained SavedModel's test scores, through its ``serving_text`` signature."""
    serve = tf.saved_model.load(model_dir).signatures[names.SERVING_TEXT_SIGNATURE]
    predicted = []
    for start in range(0, len(test[0]), PREDICT_BATCH):
        out = serve(texts=tf.constant(test[0][start:start + PREDICT_BATCH]))
        predicted += [c.decode() for c in out[names.CLASSES_OUTPUT].numpy()]
    return drugreview.score(test[1], predicted, {})


def comparison(config: config_lib.Config, outcome: mlmd.RunOutcome, workdir: str
               ) -> Dict[str, drugreview.Scores]:
    """{model: test scores}, every model trained on train only (the heads with the Tuner's
    settings)."""
    config = hyperparameters.apply(config, outcome.tuned)
    train, test = drugreview.reviews("train"), drugreview.reviews("test")
    random_encoder = export_once(os.path.join(workdir, "backbones", "minilm-l6-random"),
                                 "random")
    random_config = text_transfer.with_encoder(config, random_encoder,
                                               preprocessor_of(random_encoder))
    logs = os.path.join(workdir, "comparison_logs")
    frozen = text_transfer.frozen_head_scores
    scores = {"majority class": drugreview.majority_baseline(train, test),
              "TF-IDF + logistic regression (CV on train)":
                  drugreview.tfidf_baseline(train, test),
              "hubtune head, frozen MiniLM": frozen(config, train, test, f"{logs}/frozen")[0]}
    if outcome.model_uri:
        phase2 = run_details.phase2_outcome(outcome.uris.get("Trainer/ModelRun"))
        scores[f"hubtune pipeline ({phase2})"] = model_scores(
            os.path.join(outcome.model_uri, "Format-Serving"), test)
    scores["hubtune head, random-weight encoder"] = frozen(random_config, train, test,
                                                           f"{logs}/random")[0]
    return scores


def run_text_demo(workdir: str, overrides, out) -> None:
    started = time.time()
    print("preparing the drug reviews (CSV) and the MiniLM encoder ...", file=out)
    config = prepare(workdir, overrides)
    b, t = config.backbone, config.train
    print(f"MiniLM-L6 as a BERT encoder + preprocessor, max_seq_length {b.max_seq_length}; "
          f"class weights {t.class_weights}; phase 2 fine-tunes the top "
          f"{t.finetune_fraction:.0%} of the transformer layers at "
          f"{t.phase2_learning_rate:.0e}", file=out)
    outcome = local_run.run(config)
    print("\n" + "\n".join(status.outcome_lines(outcome, config.serving_model_dir)), file=out)
    pipeline_seconds = time.time() - started
    print("\non the 379 test reviews (nothing was chosen on them):", file=out)
    print(f"  {'model':<50} {'accuracy':>8} {'macro-F1':>8}", file=out)
    for name, s in comparison(config, outcome, workdir).items():
        print(f"  {name:<50} {s.accuracy:>8.3f} {s.macro_f1:>8.3f}", file=out)
    print(f"  targets: accuracy >= {TARGETS['accuracy']}, macro-F1 >= {TARGETS['macro_f1']}",
          file=out)
    print(f"\npipeline {pipeline_seconds:.0f} s; demo finished in {time.time() - started:.0f} s",
          file=out)
