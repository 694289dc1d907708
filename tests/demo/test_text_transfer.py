"""What transfer buys on text: hubtune's head on frozen MiniLM embeddings of drug reviews."""

from hubtune.backbones import minilm
from hubtune.demo import drugreview, text_transfer
from tests.conftest import make_config


def test_pretrained_encoder_features_beat_a_random_encoders(minilm_embedding, tmp_path):
    random = minilm.export(str(tmp_path / "random"), "embedding", weights="random")
    # Class weights: the neutral class is 9 % of train, and macro-F1 counts it as a third.
    config = make_config(data={"format": "csv", "text_key": "review", "image_key": None},
                         head={"hidden_units": [], "dropout": 0.1},
                         train={"class_weights": "auto", "batch_size": 32})
    results = text_transfer.compare(
        {"pretrained": text_transfer.with_encoder(config, minilm_embedding),
         "random": text_transfer.with_encoder(config, random)}, str(tmp_path / "logs"))
    (pretrained, speed), (scrambled, _) = results["pretrained"], results["random"]
    majority = drugreview.majority_baseline(drugreview.reviews("train"),
                                            drugreview.reviews("test"))
    # Measured: macro-F1 0.479 pretrained, 0.314 random, 0.264 majority.
    assert pretrained.macro_f1 > scrambled.macro_f1 + 0.08
    assert pretrained.macro_f1 > majority.macro_f1 + 0.1
    assert speed > 0
