"""The layering rule, read from the source with ``ast`` (nothing is imported):

- ``netdash/core/`` imports nothing from sources, probe, output, cli or tui;
- ``netdash/sources/`` and ``netdash/probe/`` nothing from output, cli or tui;
- ``netdash/output/`` and ``netdash/history/`` nothing from cli or tui;
- nothing outside ``netdash/tui/`` imports ``netdash.tui``, except ``netdash/cli`` inside a
  function (the dashboard command loads it only when it runs).

Imports under ``if TYPE_CHECKING:`` count too: a type from a higher room is a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent.parent / "netdash"

FORBIDDEN: dict[str, tuple[str, ...]] = {
    "core": ("sources", "probe", "output", "cli", "tui"),
    "sources": ("output", "cli", "tui"),
    "probe": ("output", "cli", "tui"),
    "output": ("cli", "tui"),
    "history": ("cli", "tui"),
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(name: str) -> bool:
    path = PACKAGE.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(path: Path) -> list[tuple[str, bool]]:
    """Every module ``path`` imports (``from a import b`` gives ``a``, and ``a.b`` when that
    is a module), each with whether the import statement sits inside a function."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module_name(path)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, in_function: bool) -> None:
        if isinstance(node, ast.Import):
            found.extend((alias.name, in_function) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.append((base, in_function))
            found.extend(
                (f"{base}.{alias.name}", in_function)
                for alias in node.names
                if _is_module(f"{base}.{alias.name}")  # ``from netdash import tui``
            )
        inside = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for child in ast.iter_child_nodes(node):
            visit(child, inside)

    visit(tree, False)
    return found


def _within(name: str, room: str) -> bool:
    target = f"netdash.{room}"
    return name == target or name.startswith(target + ".")


def upward_imports() -> set[tuple[str, str]]:
    """(file, imported module) for every import that breaks the rule."""
    broken: set[tuple[str, str]] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE.parent).as_posix()
        room = path.relative_to(PACKAGE).parts[0] if path.parent != PACKAGE else None
        for name, in_function in _imports(path):
            for higher in FORBIDDEN.get(room or "", ()):
                if _within(name, higher):
                    broken.add((relative, name))
            if room != "tui" and _within(name, "tui") and not (room == "cli" and in_function):
                broken.add((relative, name))
    return broken


def test_the_walk_sees_the_rooms() -> None:
    """The check below would pass vacuously on an empty or misplaced package."""
    rooms = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert {"core", "sources", "probe", "output", "cli", "tui"} <= rooms
    cli = [name for path in PACKAGE.joinpath("cli").rglob("*.py") for name, _ in _imports(path)]
    assert any(_within(name, "tui") for name in cli)  # the dashboard command's lazy import


def test_imports_flow_one_way() -> None:
    unexpected = upward_imports()
    assert not unexpected, "imports against the layering rule:\n" + "\n".join(
        f"  {path} imports {name}" for path, name in sorted(unexpected)
    )
