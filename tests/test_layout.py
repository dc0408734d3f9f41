"""The product laid out by its parts: bot/'s packages import one way, and signals/ never imports bot/."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ("runtime", "telegram", "webapp", "delivery", "presentation", "storage")  # each may import only those after it


def imports_of(path: Path) -> set[str]:
    """Modules imported when the file runs (annotations-only imports under TYPE_CHECKING left out)."""
    tree = ast.parse(path.read_text())
    skipped = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
               and getattr(block.test, "id", None) == "TYPE_CHECKING" for node in ast.walk(block)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_bot_packages_import_one_way():
    upward = []
    for layer in LAYERS:
        for path in (ROOT / "bot" / layer).glob("*.py"):
            for module in imports_of(path):
                parts = module.split(".")
                if parts[0] == "bot" and len(parts) > 1 and parts[1] in LAYERS:
                    if LAYERS.index(parts[1]) < LAYERS.index(layer):
                        upward.append(f"{path.relative_to(ROOT)} imports {module}")
    assert upward == []


def test_every_bot_module_is_in_a_package_and_signals_never_imports_bot():
    assert sorted(p.name for p in (ROOT / "bot").glob("*.py")) == ["__init__.py", "__main__.py"]
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "signals").rglob("*.py")
                 if any(m == "bot" or m.startswith("bot.") for m in imports_of(p))]
    assert offenders == []
