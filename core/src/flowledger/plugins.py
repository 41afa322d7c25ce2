"""The plugin manager: entry points of group `flowledger`, then the built-in plugins.

Switches: FLOWLEDGER_LOAD_PLUGINS=a,b (only these distributions; empty = none),
FLOWLEDGER_DISABLED_PLUGINS=a,b (blocked), FLOWLEDGER_TRACE_PLUGINS=1 (print every hook call).
"""

import os
import sys
from importlib import import_module

import pluggy

from . import hookspecs
from .installed import EntryPoint, entry_points

DEFAULT_PLUGINS = tuple(
    f"flowledger.default_plugins.{name}" for name in ("hashing", "export", "openlineage", "view", "copy")
)


class PluginManager(pluggy.PluginManager):
    """pluggy's, counting registrations: what depends on the plugins registered (`announce.listeners`) is
    worked out again only when they change."""

    generation = 0

    def register(self, plugin: object, name: str | None = None) -> str | None:
        self.generation += 1
        return super().register(plugin, name)

    def unregister(self, plugin: object | None = None, name: str | None = None) -> object | None:
        self.generation += 1
        return super().unregister(plugin, name)


pm = PluginManager("flowledger")
pm.add_hookspecs(hookspecs)
_loaded = False
distributions: dict[str, tuple[str | None, str | None]] = {}  # plugin name -> (distribution, version)


def load_plugins() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for name in filter(None, os.environ.get("FLOWLEDGER_DISABLED_PLUGINS", "").split(",")):
        pm.set_blocked(name)
    if not getattr(sys, "_called_from_test", False):
        only = os.environ.get("FLOWLEDGER_LOAD_PLUGINS")
        wanted = None if only is None else set(filter(None, only.split(",")))
        for entry, plugin in _installed_plugins():
            chosen = wanted is None or entry.dist_name in wanted
            if chosen and not pm.is_blocked(entry.name) and not pm.has_plugin(entry.name):
                pm.register(plugin, name=entry.name)
                distributions[entry.name] = (entry.dist_name, entry.dist_version)
    for module in DEFAULT_PLUGINS:
        if not pm.has_plugin(module) and not pm.is_blocked(module):
            pm.register(import_module(module), name=module)
    if os.environ.get("FLOWLEDGER_TRACE_PLUGINS"):
        pm.add_hookcall_monitoring(
            lambda name, impls, kwargs: print(f"flowledger hook {name}({', '.join(kwargs)})", file=sys.stderr),
            lambda outcome, name, impls, kwargs: None,
        )
    pm.check_pending()


def _installed_plugins() -> list[tuple[EntryPoint, object]]:
    """Each `flowledger` entry point with what it names, loaded (importlib.metadata's entry points, read
    faster and cached by `installed`; a cached one that no longer loads means a stale cache: read again)."""
    for fresh in (False, True):
        try:
            return [(entry, entry.load()) for entry in entry_points("flowledger", fresh=fresh)]
        except (ImportError, AttributeError):
            if fresh:
                raise
    return []


def migration_sets() -> list:
    """The core's migrations first, then each plugin's."""
    from .migrations import migrations

    load_plugins()
    sets = [migrations]
    pm.hook.register_migrations(register=sets.append)
    return sets
