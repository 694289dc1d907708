"""The image demo's budgets become valid configs: what `make demo` and `--budget long` run."""

from hubtune.demo import elpv


def test_the_short_budget_tunes_the_head_on_lite0_with_4_views(tmp_path):
    config = elpv.demo_config(str(tmp_path), limit=40, budget="short")
    assert config.tune.enabled and not config.tune.backbones
    assert (config.backbone.input_size, config.backbone.flip_views) == (160, 4)
    assert config.train.finetune_fraction == elpv.DEMO_SETTINGS["train"]["finetune_fraction"]


def test_the_long_budget_compares_three_backbones_at_native_size_and_fine_tunes_whole(
        tmp_path):
    from hubtune.backbones import hub_export
    config = elpv.demo_config(str(tmp_path), limit=40, budget="long")
    candidates = config.tune.backbones
    assert [(b.input_size, b.flip_views) for b in candidates] == [
        (hub_export.native_input_size(m), 8) for m, _ in elpv.BUDGETS["long"]["backbones"]]
    assert len({b.handle for b in candidates}) == 3
    assert config.train.finetune_fraction == 1.0
    assert config.train.finetune_epochs > elpv.DEMO_SETTINGS["train"]["finetune_epochs"]
    assert config.train.phase2_learning_rate == elpv.BUDGETS["long"]["train"][
        "finetune_learning_rate"]
