"""create_pipeline's inputs: ExampleGen patterns for plain and span data."""

import yaml

from hubtune import config as config_lib
from hubtune.pipeline import pipeline


def test_span_patterns_find_every_span_and_stay_out_of_input_base(tmp_path, valid_raw):
    for span in (1, 2):
        for split in ("train", "eval"):
            folder = tmp_path / f"span-{span}" / split
            folder.mkdir(parents=True)
            (folder / "part.tfrecord").write_bytes(b"")
    valid_raw["data"].update({"train": str(tmp_path / "span-{SPAN}" / "train"),
                              "eval": str(tmp_path / "span-{SPAN}" / "eval")})
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(valid_raw))
    config = config_lib.load(str(path))
    assert len(config_lib.data_files(config.data.train, "tfrecord")) == 2
    base, input_config, _ = pipeline.example_gen_inputs(config.data)
    assert base == str(tmp_path)
    assert [s.pattern for s in input_config.splits] == ["span-{SPAN}/train/*",
                                                        "span-{SPAN}/eval/*"]
