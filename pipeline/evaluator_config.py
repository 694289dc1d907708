"""The Evaluator's config: one TFMA EvalConfig with the blessing thresholds, used by the
pipeline's Evaluator and by the CI model gate (``hubtune gate``)."""

import tensorflow_model_analysis as tfma

from hubtune import config as config_lib
from hubtune.config import names

ACCURACY_METRIC = "sparse_categorical_accuracy"
LOSS_METRIC = "sparse_categorical_crossentropy"
COUNT_METRIC = "example_count"


def accuracy_threshold(thresholds: config_lib.ThresholdsConfig) -> tfma.MetricThreshold:
    """Accuracy >= min_accuracy, and at most max_accuracy_drop below the baseline."""
    return tfma.MetricThreshold(
        value_threshold=tfma.GenericValueThreshold(lower_bound={"value": thresholds.min_accuracy}),
        change_threshold=tfma.GenericChangeThreshold(
            direction=tfma.MetricDirection.HIGHER_IS_BETTER,
            absolute={"value": -thresholds.max_accuracy_drop}))


def build_eval_config(config: config_lib.Config) -> tfma.EvalConfig:
    """Accuracy, loss and confusion matrix, overall and per label, on raw eval examples.

    TFMA feeds raw tf.Examples to ``serving_default`` and gets the class-id label
    from the model's own ``transform_features`` signature.
    """
    return tfma.EvalConfig(
        model_specs=[tfma.ModelSpec(
            signature_name=names.SERVING_EXAMPLES_SIGNATURE,
            preprocessing_function_names=[names.TRANSFORM_SIGNATURE],
            label_key=names.LABEL_XF,
            prediction_key=names.SCORES_OUTPUT)],
        slicing_specs=[tfma.SlicingSpec(),
                       tfma.SlicingSpec(feature_keys=[config.data.label_key])],
        metrics_specs=[tfma.MetricsSpec(metrics=[
            tfma.MetricConfig(class_name="ExampleCount"),
            # Thresholds gate the overall slice only; per-label slices are reported.
            tfma.MetricConfig(class_name="SparseCategoricalAccuracy",
                              per_slice_thresholds=[tfma.PerSliceMetricThreshold(
                                  slicing_specs=[tfma.SlicingSpec()],
                                  threshold=accuracy_threshold(config.eval))]),
            tfma.MetricConfig(class_name="SparseCategoricalCrossentropy"),
            tfma.MetricConfig(class_name="MultiClassConfusionMatrixPlot"),
        ])])
