"""Building a Config: YAML files, ``--set`` overrides, and TFX ``custom_config``.

The same Config class is rebuilt inside Transform and the Trainer from
``custom_config``, so no key is spelled twice across modules.
"""

import dataclasses
import difflib
import os
import typing
from typing import Any, Dict, List, Optional, Sequence

import yaml

from hubtune.config.paths import check_paths
from hubtune.config.sections import (ALL_SECTIONS, CUSTOM_CONFIG_KEY, PATH_KEYS,
                                     RENAMED_KEYS, VALIDATION_ONLY_DATA_KEYS, Config,
                                     ConfigError, DataConfig)
from hubtune.config.validation import validate_values

TUNE_BACKBONES_KEY = "tune.backbones"


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp).replace("typing.", ""))


def _coerce(value: Any, tp, key: str):
    """Checks ``value`` against the field type ``tp``; ints are accepted for floats."""
    origin = typing.get_origin(tp)
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        (inner,) = [a for a in typing.get_args(tp) if a is not type(None)]
        return _coerce(value, inner, key)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ConfigError(f"'{key}' must be a mapping of keys, got {value!r}")
        return _build(tp, value, key + ".")
    if origin in (list, List):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"'{key}' must be a list, got {value!r}")
        (inner,) = typing.get_args(tp)
        return [_coerce(v, inner, f"{key}[{i}]") for i, v in enumerate(value)]
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:  # YAML 1.1 reads 1e-4 (no dot) as a string; it means the number
            return float(value)
        except ValueError:
            pass
    if tp is int and isinstance(value, bool) or not isinstance(value, tp):
        raise ConfigError(f"'{key}' must be {_type_name(tp)}, got {value!r}")
    return value


def _build(cls, raw: Dict[str, Any], prefix: str = ""):
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in raw.items():
        if name not in fields:
            close = difflib.get_close_matches(name, fields, n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            if name in RENAMED_KEYS:
                hint = f" (renamed: write {prefix}{RENAMED_KEYS[name]})"
            raise ConfigError(f"unknown config key '{prefix}{name}'{hint}; known keys here: "
                              + ", ".join(prefix + f for f in fields))
        kwargs[name] = _coerce(value, hints[name], prefix + name)
    return cls(**kwargs)


def _parse_override(item: str):
    if "=" not in item:
        raise ConfigError(f"--set takes key=value, got '{item}'")
    key, text = item.split("=", 1)
    try:
        value = yaml.safe_load(text) if text else ""
    except yaml.YAMLError as e:
        raise ConfigError(f"--set {key}: cannot parse value '{text}': {e}") from e
    return key.strip(), value


def apply_overrides(raw: Dict[str, Any], overrides: Sequence[str]) -> Dict[str, Any]:
    """Applies ``a.b.c=value`` overrides (values parsed as YAML) to a raw dict.

    Paths given this way are typed on a command line, so a relative one is resolved
    against the working directory (a YAML file's against its own folder)."""
    path_keys = {".".join(filter(None, k)) for k in PATH_KEYS}
    for item in overrides:
        key, value = _parse_override(item)
        if key in path_keys:
            value = _absolute(value, os.getcwd())
        if key == TUNE_BACKBONES_KEY:
            value = _absolute_handles(value, os.getcwd())
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"--set {key}: '{part}' is not a section")
            node = child
        node[parts[-1]] = value
    return raw


def from_dict(raw: Dict[str, Any]) -> Config:
    """Builds and validates a Config (values only; files are checked by check_paths)."""
    if not isinstance(raw, dict):
        raise ConfigError("the config must be a mapping of keys at the top level")
    config = _build(Config, raw)
    validate_values(config)
    return config


def data_from_dict(raw: Dict[str, Any]) -> DataConfig:
    """Rebuilds the ``data`` section alone (what custom components receive)."""
    return _build(DataConfig, raw, "data.")


def _absolute(value: Any, base_dir: str) -> Any:
    """A relative local path joined to ``base_dir``; URLs, absolute paths and '' as they are."""
    if isinstance(value, str) and value and "://" not in value and not os.path.isabs(value):
        return os.path.normpath(os.path.join(base_dir, value))
    return value


def _resolve_relative(raw: Dict[str, Any], base_dir: str) -> None:
    """Makes local paths in the YAML relative to the YAML file, not the shell's cwd."""
    for section, key in PATH_KEYS:
        node = raw.get(section) if section else raw
        if isinstance(node, dict) and key in node:
            node[key] = _absolute(node[key], base_dir)
    tune = raw.get("tune")
    if isinstance(tune, dict):
        tune["backbones"] = _absolute_handles(tune.get("backbones"), base_dir)


def _absolute_handles(candidates: Any, base_dir: str) -> Any:
    """``tune.backbones`` with each candidate's local handle made absolute."""
    if not isinstance(candidates, list):
        return candidates
    return [dict(c, handle=_absolute(c["handle"], base_dir))
            if isinstance(c, dict) and "handle" in c else c for c in candidates]


def load(path: Optional[str], overrides: Sequence[str] = (), check_files: bool = True) -> Config:
    """Reads a YAML config file, applies ``--set`` overrides, validates values and (unless
    ``check_files`` is false) that the files it names exist."""
    raw: Dict[str, Any] = {}
    if path:
        if not os.path.isfile(path):
            raise ConfigError(f"config file not found: {path}")
        with open(path) as f:
            try:
                raw = yaml.safe_load(f) or {}
            except yaml.YAMLError as e:
                raise ConfigError(f"{path} is not valid YAML: {e}") from e
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of keys")
        _resolve_relative(raw, os.path.dirname(os.path.abspath(path)))
    config = from_dict(apply_overrides(raw, overrides))
    if check_files:
        check_paths(config)
    return config


def to_custom_config(config: Config, sections: Sequence[str]) -> Dict[str, Any]:
    """What crosses into Transform or the Trainer (TFX ``custom_config``)."""
    full = config.to_dict()
    for key in VALIDATION_ONLY_DATA_KEYS:
        full["data"].pop(key, None)
    return {CUSTOM_CONFIG_KEY: {name: full[name] for name in sections}}


def from_custom_config(custom_config: Optional[Dict[str, Any]]) -> Config:
    """The Config again (sections not sent keep their defaults and are not validated)."""
    if not custom_config or CUSTOM_CONFIG_KEY not in custom_config:
        raise ConfigError(f"custom_config carries no '{CUSTOM_CONFIG_KEY}': build the "
                          "pipeline with pipeline.pipeline.create_pipeline(config)")
    raw = custom_config[CUSTOM_CONFIG_KEY]
    config = _build(Config, raw)
    validate_values(config, sections=[s for s in ALL_SECTIONS if s in raw])
    return config
