"""Resolving what passed data validation: a rolling window of the last N validated spans,
and the latest validated statistics (the reference a label-drift check compares with).

TFX's SpanRangeStrategy takes the last N spans whatever happened to them, so a
span that data validation rejected would enter the next run's training window.  This
strategy keeps only Examples that a successful BlockingExampleValidator execution
consumed, the newest artifact per span, and the ``num_spans`` newest spans.
"""

from typing import Dict, List, Optional

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.dsl.components.common import resolver

from hubtune.components.blocking_example_validator import BlockingExampleValidator

SPAN_PROPERTY = "span"
# Execution types are "<module>.<class>" of the component.
VALIDATOR_TYPE_SUFFIX = BlockingExampleValidator.__name__
PASSED = (metadata_store_pb2.Execution.COMPLETE, metadata_store_pb2.Execution.CACHED)


def validated_ids(store: mlmd.MetadataStore, artifact_ids: List[int]) -> set:
    """Ids of the artifacts that were an input of a validator execution that passed."""
    events = store.get_events_by_artifact_ids(artifact_ids)
    inputs = [e for e in events if e.type == metadata_store_pb2.Event.INPUT]
    executions = {e.id: e for e in store.get_executions_by_id(
        list({ev.execution_id for ev in inputs}))}
    return {ev.artifact_id for ev in inputs
            if ev.execution_id in executions
            and executions[ev.execution_id].type.endswith(VALIDATOR_TYPE_SUFFIX)
            and executions[ev.execution_id].last_known_state in PASSED}


def passed_validation(store: mlmd.MetadataStore,
                      artifacts: List[types.Artifact]) -> List[types.Artifact]:
    validated = validated_ids(store, [a.id for a in artifacts])
    return [a for a in artifacts if a.id in validated]


class ValidatedSpanWindowStrategy(resolver.ResolverStrategy):
    """Resolves ``examples`` to the newest validated artifact of each of the last N spans."""

    def __init__(self, num_spans: int):
        if num_spans < 1:
            raise ValueError("num_spans must be at least 1")
        self._num_spans = num_spans

    def resolve_artifacts(self, store: mlmd.MetadataStore,
                          input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        result = {}
        for key, artifacts in input_dict.items():
            newest: Dict[int, types.Artifact] = {}
            for artifact in passed_validation(store, artifacts):
                span = artifact.get_int_custom_property(SPAN_PROPERTY)
                if span not in newest or artifact.id > newest[span].id:
                    newest[span] = artifact
            result[key] = [newest[s] for s in sorted(newest)[-self._num_spans:]]
        return result


class LatestValidatedStrategy(resolver.ResolverStrategy):
    """Resolves each key to the newest artifact a passing validator consumed (none on the
    first run).  A rejected run's artifacts never become the reference, so re-running a
    rejected span compares it with the last accepted one again, not with itself."""

    def resolve_artifacts(self, store: mlmd.MetadataStore,
                          input_dict: Dict[str, List[types.Artifact]]
                          ) -> Optional[Dict[str, List[types.Artifact]]]:
        result = {}
        for key, artifacts in input_dict.items():
            passed = passed_validation(store, artifacts)
            result[key] = [max(passed, key=lambda a: a.id)] if passed else []
        return result
