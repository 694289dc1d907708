"""``hubtune schema freeze``: the schema of the latest blessed run becomes the curated
schema file the user reviews and commits (``data.schema``, imported with ImportSchemaGen).

From then on the schema is no longer re-inferred from each run's data, so a new label or
a drifted label distribution stops the run instead of silently joining the schema.
"""

import datetime
import os
from typing import Tuple

from google.protobuf import text_format
from tfx.utils import io_utils

from hubtune.runs import mlmd

SCHEMA_FILE_NAME = "schema.pbtxt"  # what SchemaGen and ImportSchemaGen write
SCHEMA_INPUT_KEY = "schema"        # the Trainer's input key for the schema


class FreezeError(RuntimeError):
    """No blessed run to freeze from, or the target file exists."""


def blessed_run_schema(sqlite_path: str) -> Tuple[str, str]:
    """(schema.pbtxt the latest blessed model was trained with, that model's uri)."""
    if not os.path.exists(sqlite_path):
        raise FreezeError(f"no pipeline runs yet (no ML Metadata at {sqlite_path}): "
                          "run `hubtune run` until a model is blessed, then freeze")
    store = mlmd.open_store(sqlite_path)
    model = mlmd.latest_blessed_model(store)
    if model is None:
        raise FreezeError("no blessed model yet: freeze the schema of a run whose model "
                          "the Evaluator blessed (see `hubtune status`)")
    events = store.get_events_by_artifact_ids([model.id])
    # The producing execution; cached Trainer runs record the same model (and inputs) again.
    trainer_run = min(e.execution_id for e in events if e.type == e.OUTPUT)
    inputs = store.get_events_by_execution_ids([trainer_run])
    schema_ids = [e.artifact_id for e in inputs if e.type == e.INPUT
                  and any(s.key == SCHEMA_INPUT_KEY for s in e.path.steps)]
    [schema] = store.get_artifacts_by_id(sorted(set(schema_ids)))
    return os.path.join(schema.uri, SCHEMA_FILE_NAME), model.uri


def freeze(sqlite_path: str, out_path: str, force: bool = False) -> str:
    """Writes the blessed run's schema to ``out_path`` with a header saying where it came
    from; returns the source schema file.  Refuses to overwrite unless ``force``."""
    if os.path.exists(out_path) and not force:
        raise FreezeError(f"{out_path} exists: it is the curated schema; edit it, or "
                          "pass --force to replace it with the latest blessed run's")
    source, model_uri = blessed_run_schema(sqlite_path)
    schema = io_utils.SchemaReader().read(source)  # also checks that it parses
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    header = (f"# hubtune curated schema, frozen {stamp} from the schema the blessed model\n"
              f"# {model_uri} was trained with.  Review it, commit it, and edit it for\n"
              "# intended changes (a new label, a feature's domain); the pipeline imports it\n"
              "# (data.schema) instead of re-inferring a schema from each run's data.\n")
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        f.write(header + text_format.MessageToString(schema))
    os.replace(tmp, out_path)
    return source
