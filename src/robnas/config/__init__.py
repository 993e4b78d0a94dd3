"""Configs: frozen dataclasses, loadable from TOML, overridable with ``--set a.b=value``.

Radii (eps fields) are :class:`robnas.eps.Eps` values: read from ``"8/255"``, ``"0.031"`` or numbers,
written back as their label.
"""

from robnas.config.loading import config_from_dict, config_to_dict, load_config, apply_overrides, to_toml

__all__ = ["config_from_dict", "config_to_dict", "load_config", "apply_overrides", "to_toml"]
