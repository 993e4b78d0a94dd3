"""Plugins: third-party packages that extend robnas without editing it.

A plugin is any installed distribution with an entry point in the group ``robnas.plugins``; its
value names a module, which robnas imports at start-up (the CLI does it before parsing a config).
That module registers components with the public decorators -- ``robnas.models.register_model``,
``robnas.attacks.register_attack``, ``robnas.search.discrete.register_strategy``,
``robnas.search.differentiable.register_term``, ... -- exactly as robnas' own modules do. In a
plugin's ``pyproject.toml``::

    [project.entry-points."robnas.plugins"]
    my_plugin = "my_package.robnas_components"

A plugin that fails to import stops the command with one ``error:`` line naming it.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from robnas.errors import RobnasError

GROUP = "robnas.plugins"
_loaded: dict[str, str] = {}


class PluginError(RobnasError):
    """A plugin module that cannot be imported or fails while registering its components."""


def load_plugins() -> dict[str, str]:
    """Import every ``robnas.plugins`` entry point once; returns ``{plugin name: module}``."""
    for ep in entry_points(group=GROUP):
        if ep.name in _loaded:
            continue
        module = ep.value.split(":")[0].strip()
        try:
            importlib.import_module(module)
        except Exception as exc:  # a plugin's own bug, whatever its type, is reported as that plugin's failure
            reason = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            dist = getattr(ep, "dist", None)
            owner = f" (distribution {dist.name})" if dist is not None else ""
            raise PluginError(f"plugin {ep.name!r}{owner} failed to load module {module}: {type(exc).__name__}: "
                              f"{reason}; fix or uninstall the plugin") from exc
        _loaded[ep.name] = module
    return dict(_loaded)
