"""CuratedSchemaGen: TFX's ImportSchemaGen, re-run when the schema file's content changes."""

from tfx.components.schema_gen.import_schema_gen import executor as import_executor

from hubtune.components.curated_schema_gen import SCHEMA_SHA256_KEY, CuratedSchemaGen

SCHEMA = 'feature { name: "label" type: BYTES }\n'


def test_an_edit_in_place_changes_the_cache_key_and_the_import_copies_it(tmp_path):
    path = tmp_path / "schema.pbtxt"
    path.write_text(SCHEMA)
    first = CuratedSchemaGen(schema_file=str(path)).exec_properties
    path.write_text(SCHEMA + 'feature { name: "image" type: BYTES }\n')
    second = CuratedSchemaGen(schema_file=str(path)).exec_properties
    assert first["schema_file"] == second["schema_file"]
    assert first[SCHEMA_SHA256_KEY] != second[SCHEMA_SHA256_KEY]
    component = CuratedSchemaGen(schema_file=str(path))
    assert component.executor_spec.executor_class is import_executor.Executor
    assert set(component.outputs) == {"schema"}
