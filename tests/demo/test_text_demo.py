"""``hubtune demo --task text``'s preparation: the reviews as CSV, MiniLM as a BERT encoder
and preprocessor, and a config the pipeline accepts."""

from hubtune import config as config_lib
from hubtune.config.csv_files import check_csv_file
from hubtune.demo import drugreview, text_demo
from hubtune.trainer_module import backbone


def test_prepare_writes_the_splits_and_a_valid_text_config(tmp_path):
    config = text_demo.prepare(str(tmp_path), ["train.finetune_epochs=1"])
    assert config.data.modality == config_lib.TEXT and config.data.format == "csv"
    assert check_csv_file(config.data.train, config.data) == 600
    assert check_csv_file(config.data.eval, config.data) == 379
    config_lib.check_paths(config)
    backbone.check_backbone_modality(config)  # a BERT encoder with its preprocessor
    # Blessing needs more than always answering the train split's most frequent label.
    labels = drugreview.reviews("train")[1]
    assert config.eval.min_accuracy == round(labels.count("positive") / len(labels), 4)
    assert config.train.finetune_epochs == 1  # --set overrides apply
