"""Architecture rules that a reviewer would otherwise check by hand (docs/architecture.md).

- Layers, top to bottom (docs/architecture.md): ``cli`` → ``bench``/``train``/``predict``/
  ``testing`` → ``datasets``/``fetch`` → ``schema``/``models``/``metrics`` → leaf helpers
  (every other top-level module). A module imports its own package or lower layers only.
- No import cycle between satsr modules (function-level imports count too: a lazy import is
  still a dependency; only ``if TYPE_CHECKING:`` blocks are ignored).
- No function in satsr/ longer than 80 lines outside :data:`LONG_FUNCTIONS`. A function's
  length is its body (from the first statement, so a typer command's option table in the
  signature is not counted) minus the nested functions it defines, which are measured on
  their own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "satsr"
MAX_LINES = 80

#: function -> why it may stay long. Keep this short: every entry is a debt.
LONG_FUNCTIONS: dict[str, str] = {
}

#: import edges allowed to close a cycle until their owner's refactor lands (same rule: debts)
KNOWN_CYCLE_EDGES: dict[tuple[str, str], str] = {}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, list[str]]]:
    """(module, imported names) for every import in ``tree`` (relative imports resolved)."""
    found: list[tuple[str, list[str]]] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = module.split(".")
                keep = len(parts) - node.level + (1 if is_package else 0)
                base = ".".join(parts[:keep] + ([base] if base else []))
            found.append((base, [alias.name for alias in node.names]))
        stack.extend(ast.iter_child_nodes(node))
    return found


def import_graph() -> dict[str, set[str]]:
    """satsr module -> the satsr modules it imports.

    ``from pkg import sub`` depends on ``pkg.sub`` when that is a module, on ``pkg`` (its
    ``__init__``) otherwise; parent packages are not implicit dependencies.
    """
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        deps: set[str] = set()
        for base, names in _imports(ast.parse(path.read_text("utf-8")), name,
                                    path.name == "__init__.py"):
            subs = [f"{base}.{n}" for n in names if f"{base}.{n}" in modules]
            deps.update(subs)
            if len(subs) < len(names) or not names:
                deps.add(base)
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return [*path[path.index(dep):], dep]
            if dep not in state and (cycle := visit(dep)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 50 and "satsr.models._registry" in graph["satsr.models"]
    stale = [edge for edge in KNOWN_CYCLE_EDGES if edge[1] not in graph.get(edge[0], set())]
    assert not stale, f"KNOWN_CYCLE_EDGES entries that no longer exist (remove them): {stale}"
    for a, b in KNOWN_CYCLE_EDGES:
        graph[a] = graph[a] - {b}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


#: top-level package or module -> layer (higher imports lower); anything else is a leaf helper (1)
LAYERS = {"__main__": 6, "cli": 5, "bench": 4, "train": 4, "predict": 4, "testing": 4,
          "datasets": 3, "fetch": 3, "schema": 2, "models": 2, "metrics": 2}


def layer_of(module: str) -> tuple[int, str]:
    """(layer, top-level part) of a satsr module; ``satsr`` itself is a leaf."""
    top = module.split(".")[1] if "." in module else ""
    return LAYERS.get(top, 1), top


def test_modules_import_only_their_own_package_or_lower_layers() -> None:
    upward = []
    for module, deps in import_graph().items():
        layer, top = layer_of(module)
        for dep in deps:
            dep_layer, dep_top = layer_of(dep)
            same_package = dep_top == top and layer > 1
            if not same_package and dep_layer >= layer and not (layer == dep_layer == 1):
                upward.append(f"{module} -> {dep}")
    assert not upward, f"imports that go up or sideways between layers: {sorted(upward)}"


def test_cycle_finder_finds_a_planted_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def own_length(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Body lines of ``fn`` minus the lines of the functions nested in it."""
    length = fn.end_lineno - fn.body[0].lineno + 1  # type: ignore[operator]
    nested = [n for n in ast.walk(fn) if n is not fn
              and isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    for inner in nested:
        if any(o is not inner and o.lineno <= inner.lineno and inner.end_lineno <= o.end_lineno  # type: ignore[operator]
               for o in nested):
            continue  # counted inside its own parent
        start = min([d.lineno for d in inner.decorator_list] + [inner.lineno])
        length -= inner.end_lineno - start + 1  # type: ignore[operator]
    return length


def _lengths(node: ast.AST, module: str, prefix: str, out: dict[str, int]) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            qual = f"{prefix}{child.name}"
            out[f"{module}:{qual}"] = own_length(child)
            _lengths(child, module, f"{qual}.", out)
        elif isinstance(child, ast.ClassDef):
            _lengths(child, module, f"{prefix}{child.name}.", out)
        else:
            _lengths(child, module, prefix, out)


def function_lengths() -> dict[str, int]:
    """``module:qualified.name`` -> own length, for every function in satsr/."""
    out: dict[str, int] = {}
    for name, path in _modules().items():
        _lengths(ast.parse(path.read_text("utf-8")), name, "", out)
    return out


def test_no_function_is_longer_than_the_limit() -> None:
    lengths = function_lengths()
    assert lengths["satsr.train.loop:train"] < 10  # the old 212-line loop is a Trainer now
    long = {name: n for name, n in lengths.items() if n > MAX_LINES and name not in LONG_FUNCTIONS}
    assert not long, f"functions over {MAX_LINES} lines (split them): {long}"
    stale = [name for name in LONG_FUNCTIONS if lengths.get(name, 0) <= MAX_LINES]
    assert not stale, f"allow-list entries that are short now (remove them): {stale}"


@pytest.mark.parametrize(("source", "expected"), [
    ("def f():\n    x = 1\n    return x\n", 2),
    ("def f(\n    a: int = 1,\n    b: int = 2,\n):\n    return a\n", 1),
    ("def f():\n    def g():\n        return 1\n    return g\n", 1),
])
def test_own_length(source: str, expected: int) -> None:
    fn = ast.parse(source).body[0]
    assert isinstance(fn, ast.FunctionDef)
    assert own_length(fn) == expected
