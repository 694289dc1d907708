"""What a training phase returns, shared by the Keras and the compiled training loops."""

import dataclasses
import logging
from typing import Dict, List

PHASE_HEAD = "phase1_head"
PHASE_FINETUNE = "phase2_finetune"
LOGGER = logging.getLogger("hubtune")


@dataclasses.dataclass
class PhaseResult:
    phase: str
    epochs_run: int
    history: Dict[str, List[float]]
    trained_variables: int
    kept: bool = True  # False when phase 2 did not beat phase 1 and was rolled back

    @property
    def best_val_loss(self) -> float:
        return min(self.history["val_loss"])
