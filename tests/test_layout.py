"""The product laid out by its parts: bot/'s packages import one way, no two modules import each other
(through any chain), and signals/ never imports bot/.

Every file at every depth is read, and every import counts: at the top, inside a function, and under
`TYPE_CHECKING` (an annotation that names a module above is a dependency on it all the same).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# each may import only those after it: the data flow, from the process down to the database
LAYERS = ("runtime", "telegram", "webapp", "delivery", "presentation", "storage")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Every module the file names in an import, wherever the import stands."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # `from pkg import module`
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def import_graph() -> dict[str, set[str]]:
    paths = [*(ROOT / "bot").rglob("*.py"), *(ROOT / "signals").rglob("*.py")]
    named = {module_name(path): imports_of(path) for path in paths}
    return {module: {other for other in found if other in named and other != module} for module, found in named.items()}


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    return LAYERS.index(parts[1]) if parts[0] == "bot" and len(parts) > 1 and parts[1] in LAYERS else None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_the_graph_reads_nested_packages_and_annotation_only_imports():
    graph = import_graph()
    assert "bot.presentation.topics.breadth" in graph  # two levels down
    assert "bot.storage.protocol" in graph["bot.storage.sql_store"]


def test_bot_packages_import_one_way():
    upward = sorted(f"{module} imports {other}" for module, found in import_graph().items() for other in found
                    if (mine := layer_of(module)) is not None and (theirs := layer_of(other)) is not None
                    and theirs < mine)
    assert upward == []


def test_no_two_modules_import_each_other_through_any_chain():
    assert cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_every_bot_module_is_in_a_package_and_signals_never_imports_bot():
    assert sorted(p.name for p in (ROOT / "bot").glob("*.py")) == ["__init__.py", "__main__.py"]
    offenders = sorted(module for module, found in import_graph().items()
                       if module.startswith("signals") and any(other.startswith("bot") for other in found))
    assert offenders == []
