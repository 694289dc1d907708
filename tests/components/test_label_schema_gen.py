"""LabelSchemaGen: the label domain pinned to the training values."""

from tensorflow_metadata.proto.v0 import schema_pb2, statistics_pb2

from hubtune.components import label_schema_gen


def test_int_label_domain_is_pinned_to_training_range():
    schema = schema_pb2.Schema()
    schema.feature.add(name="image_class", type=schema_pb2.INT)
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    feature = stats.datasets.add().features.add()
    feature.path.step.append("image_class")
    feature.num_stats.min, feature.num_stats.max = 0, 9
    assert label_schema_gen.pin_int_label_domain(schema, stats, "image_class")
    domain = schema.feature[0].int_domain
    assert (domain.min, domain.max, domain.is_categorical) == (0, 9, True)


def test_string_labels_keep_tfdv_domain():
    schema = schema_pb2.Schema()
    schema.feature.add(name="label", type=schema_pb2.BYTES)
    assert not label_schema_gen.pin_int_label_domain(
        schema, statistics_pb2.DatasetFeatureStatisticsList(), "label")


def _text_statistics(texts, labels):
    import pandas as pd
    import tensorflow_data_validation as tfdv
    return tfdv.generate_statistics_from_dataframe(pd.DataFrame({"review": texts,
                                                                 "label": labels}))


def test_a_small_text_split_gets_no_enum_domain_but_labels_keep_theirs():
    """Real TFDV: 40 distinct train reviews make it infer an enum of them, so every new
    eval review would be an anomaly; the text domain is cleared, the label's is kept."""
    import tensorflow_data_validation as tfdv
    train = _text_statistics([f"review number {i}" for i in range(40)], ["good", "bad"] * 20)
    schema = tfdv.infer_schema(train)
    assert tfdv.get_domain(schema, "review") is not None  # what TFDV does by itself
    assert label_schema_gen.clear_text_domain(schema, "review")
    assert not label_schema_gen.clear_text_domain(schema, "review")  # nothing left to clear
    assert {d.name for d in schema.string_domain} == {"label"}
    fresh = _text_statistics(["an unseen review", "another one"], ["good", "bad"])
    assert not tfdv.validate_statistics(fresh, schema).anomaly_info
    unseen_label = _text_statistics(["a review"], ["terrible"])
    assert set(tfdv.validate_statistics(unseen_label, schema).anomaly_info) == {"label"}


def test_no_text_key_leaves_the_schema_alone():
    schema = schema_pb2.Schema()
    feature = schema.feature.add(name="label", type=schema_pb2.BYTES)
    feature.domain = "label"
    schema.string_domain.add(name="label", value=["a", "b"])
    assert not label_schema_gen.clear_text_domain(schema, "")
    assert schema.feature[0].domain == "label" and len(schema.string_domain) == 1
