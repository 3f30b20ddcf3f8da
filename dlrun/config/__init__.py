"""Config schema, loading, overrides and checks; no TensorFlow import.

The whole-config class and the `load_config` / `validate` bound to it are in `dlrun.spec`,
which assembles the schema from the model and data registries above this package.
"""

from dlrun.config.loader import LoadedConfig, dump_yaml, parse_override

__all__ = ["LoadedConfig", "dump_yaml", "parse_override"]
