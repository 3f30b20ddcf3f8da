"""Config schema, loading, overrides and checks; no TensorFlow import."""

from dlrun.config.loader import LoadedConfig, dump_yaml, load_config, parse_override, validate
from dlrun.config.schema import DlrunConfig

__all__ = ["DlrunConfig", "LoadedConfig", "dump_yaml", "load_config", "parse_override", "validate"]
