"""What the steps between the Evaluator and the Pusher take: the candidate model, the
examples it is checked on, and the Evaluator's blessing.  A model the Evaluator did not
bless will not be pushed whatever they find, so they skip it (and say so)."""

from typing import Dict, List

from tfx import types
from tfx.components.util import model_utils
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter

INPUTS = {
    standard_component_specs.MODEL_KEY: ChannelParameter(type=standard_artifacts.Model),
    standard_component_specs.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
    standard_component_specs.MODEL_BLESSING_KEY: ChannelParameter(
        type=standard_artifacts.ModelBlessing, optional=True),
}
SKIPPED = "not checked: the Evaluator did not bless the model"


def evaluator_refused(input_dict: Dict[str, List[types.Artifact]]) -> bool:
    evaluation = input_dict.get(standard_component_specs.MODEL_BLESSING_KEY)
    return bool(evaluation) and not model_utils.is_model_blessed(evaluation[0])
