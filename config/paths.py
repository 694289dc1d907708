"""The files a Config names: data patterns, image folders, CSV files, the backbone handle."""

import glob
import os
from typing import List

from hubtune.config.csv_files import check_csv_file
from hubtune.config.sections import Config, ConfigError, IMAGE_EXTENSIONS, SPAN


def is_remote(path: str) -> bool:
    return "://" in path


def image_folder_pattern(folder: str) -> str:
    """The files of an image folder: ``<folder>/<class>/<image>``."""
    return folder.rstrip("/") + "/*/*"


def data_files(pattern: str, data_format: str) -> List[str]:
    """Files a ``data.train``/``data.eval`` value names (a folder means all files in it;
    ``{SPAN}`` matches every span)."""
    pattern = pattern.replace(SPAN, "*")
    if data_format == "image_folder":
        return sorted(p for p in glob.glob(image_folder_pattern(pattern))
                      if p.lower().endswith(IMAGE_EXTENSIONS))
    files = []
    for match in glob.glob(pattern):
        files += glob.glob(os.path.join(match, "*")) if os.path.isdir(match) else [match]
    return sorted(p for p in files if os.path.isfile(p))


def check_paths(c: Config) -> None:
    """Checks that local inputs exist, naming the key and the path when one does not."""
    for key in ("train", "eval"):
        value = getattr(c.data, key)
        if not value or is_remote(value):
            continue
        if c.data.format == "image_folder" and SPAN not in value and not os.path.isdir(value):
            raise ConfigError(f"'data.{key}': folder not found: {value} (image_folder data "
                              "is a folder with one sub-folder of images per class)")
        if not data_files(value, c.data.format):
            what = ("no <class>/<image>.png|jpg files" if c.data.format == "image_folder"
                    else "no files match")
            raise ConfigError(f"'data.{key}': {what}: {value}")
        if c.data.format == "csv":
            for path in data_files(value, c.data.format):
                check_csv_file(path, c.data)
    handle = c.backbone.handle
    # tune.backbones are not checked here: a candidate that fails to load is skipped by the
    # Tuner, with the reason in its trial table.
    if handle and not is_remote(handle):
        if not os.path.isfile(os.path.join(handle, "saved_model.pb")):
            raise ConfigError(f"'backbone.handle': no SavedModel at {handle} (expected "
                              f"{os.path.join(handle, 'saved_model.pb')}); export the demo "
                              "backbone with `hubtune backbone export --out DIR`")
    preprocessor = c.backbone.preprocessor
    if preprocessor and not is_remote(preprocessor) and not os.path.isfile(
            os.path.join(preprocessor, "saved_model.pb")):
        raise ConfigError(f"'backbone.preprocessor': no SavedModel at {preprocessor}")
    schema = c.data.schema
    if schema and not is_remote(schema) and not os.path.isfile(schema):
        raise ConfigError(f"'data.schema': no schema file at {schema}; write it with "
                          "`hubtune schema freeze --config YAML --out PATH` after a blessed run")
