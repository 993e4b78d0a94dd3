"""Configs: frozen dataclasses, loadable from TOML, overridable with ``--set a.b=value``."""

from robnas.config.loading import config_from_dict, config_to_dict, load_config, apply_overrides, to_toml
from robnas.config.numbers import parse_eps, parse_eps_list

__all__ = ["config_from_dict", "config_to_dict", "load_config", "apply_overrides", "to_toml",
           "parse_eps", "parse_eps_list"]
