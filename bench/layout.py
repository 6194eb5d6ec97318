"""Where netdash's functions live, in whichever package layout is on the path.

The benchmark measures the current tree and, with ``--baseline``, an older one whose modules
sit elsewhere (before issue 12: ``netdash.collect``, ``netdash.classify``, ``netdash.probe``,
``netdash.probeproc``; after it: ``netdash.sources``, ``netdash.core.*``,
``netdash.probe.engine``, ``netdash.probe.child``). :func:`find` tries the modules in order
and returns the first that has the name. No netdash import happens at this module's import,
and it imports nothing from ``bench`` (``bench/probe_tree.py`` loads it as a plain module
when run with another tree's ``PYTHONPATH``).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

__all__ = ["WHERE", "find"]

_SOURCES = (
    "netdash.sources",
    "netdash.sources.snapshot",
    "netdash.sources.processes",
    "netdash.sources.collect",
    "netdash.collect",
)

#: name -> modules to try, newest layout first.
WHERE: dict[str, tuple[str, ...]] = {
    # netdash.sources is being split (snapshot / processes): any of them, the package first.
    "collect_snapshot": _SOURCES,
    "ProcessCache": _SOURCES,
    "choose_lan": ("netdash.core.lan", "netdash.classify"),
    "scope_of": ("netdash.core.addresses", "netdash.classify"),
    "listener_reach": ("netdash.core.addresses", "netdash.classify"),
    "own_addresses": ("netdash.core.addresses", "netdash.classify"),
    "ProbeLimits": ("netdash.probe.engine", "netdash.probe"),
    "probe_listeners": ("netdash.probe.engine", "netdash.probe"),
    "probe_in_processes": ("netdash.probe.child", "netdash.probeproc"),
    "default_processes": ("netdash.probe.child", "netdash.probeproc"),
    "NetdashApp": ("netdash.tui.app", "netdash.app"),
    "ListenerTable": ("netdash.tui.widgets", "netdash.widgets"),
}


def _in_tree(module: str) -> bool:
    """True if ``module`` and every package on its way are files of the imported ``netdash``
    package. Checked before importing it: where another netdash is installed editable, its
    finder answers for submodules this tree lacks (the old tree has no ``netdash.tui``), which
    would mix the two trees."""
    root = Path(importlib.import_module("netdash").__file__ or "").resolve().parent
    parts = module.split(".")
    for end in range(2, len(parts) + 1):
        try:
            spec = importlib.util.find_spec(".".join(parts[:end]))
        except ModuleNotFoundError:  # a parent is a module here, not a package
            return False
        if spec is None or spec.origin is None:
            return False
        if not Path(spec.origin).resolve().is_relative_to(root):
            return False
    return True


def find(name: str) -> Any:
    """``name`` from the first module of :data:`WHERE` that this tree has and that defines
    it (a module that exists but fails to import raises)."""
    for module in WHERE[name]:
        if not _in_tree(module):
            continue
        found = importlib.import_module(module)
        if hasattr(found, name):
            return getattr(found, name)
    raise ImportError(f"netdash has no {name} in any of {', '.join(WHERE[name])}")
