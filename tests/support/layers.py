"""Reads every module's imports with ``ast`` and lists what breaks the hub's layering rules
(docs/architecture.md): who may import whom, no production import of test code, no cycles,
and a reason beside every import hidden inside a function."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

CORE = "hub"
DOMAINS = frozenset({"consult", "imaging", "insurance", "video", "referral"})
# Core packages every layer may use: the hub itself and the front end's files.
SHARED = frozenset({CORE, "frontend"})
PRODUCTION = (CORE, "frontend", *sorted(DOMAINS), "migrations")
# What one domain may import of another: these modules, at any depth (imaging.reading.services).
PUBLIC_MODULES = frozenset({"services", "events", "schemas"})
# The only core modules that may import a domain package.
CORE_MAY_IMPORT_DOMAINS = frozenset({"hub", "hub.model_registry"})


@dataclass(frozen=True, order=True)
class Offence:
    path: str
    line: int
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.detail}"


@dataclass(frozen=True, order=True)
class Import:
    source: str  # the importing module, e.g. "insurance.services"
    target: str  # the module imported, resolved, e.g. "consult.services"
    path: str
    line: int
    in_function: bool
    commented: bool  # a comment on the line or the line before says why


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports_of(root: Path, path: Path, known: set[str]) -> list[Import]:
    """The module's imports outside ``if TYPE_CHECKING:`` blocks, each resolved to a module."""
    source = module_name(root, path)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text, filename=str(path))
    rel = str(path.relative_to(root))
    found: list[Import] = []

    def has_comment(first: int, last: int) -> bool:
        before = lines[first - 2].strip() if first >= 2 else ""
        return before.startswith("#") or any("#" in lines[n - 1] for n in range(first, last + 1))

    # Consecutive import statements form one block: a comment above the block covers it.
    block_comment: dict[int, bool] = {}
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if not isinstance(body, list):
                continue
            run: list[ast.stmt] = []
            for stmt in [*body, None]:
                if isinstance(stmt, ast.Import | ast.ImportFrom):
                    run.append(stmt)
                    continue
                if run:
                    ok = has_comment(run[0].lineno, run[-1].end_lineno or run[-1].lineno)
                    for member in run:
                        block_comment[member.lineno] = ok
                run = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other, in_function)
                continue
            nested = in_function or isinstance(
                child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
            )
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [alias.name for alias in child.names]
            elif isinstance(child, ast.ImportFrom):
                base = _resolve(source, path.name == "__init__.py", child)
                for alias in child.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in known else base)
            for target in dict.fromkeys(targets):
                commented = block_comment.get(child.lineno, False)
                found.append(Import(source, target, rel, child.lineno, nested, commented))
            visit(child, nested)

    visit(tree, False)
    return found


def modules(root: Path, packages: Iterable[str]) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in packages:
        base = root / package
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*.py")):
            found[module_name(root, path)] = path
    return found


def _top(module: str) -> str:
    return module.split(".", 1)[0]


def _is_test_code(target: str) -> bool:
    return _top(target) == "tests" or any(part.startswith("test") for part in target.split(".")[1:])


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    result: list[list[str]] = []
    counter = 0

    def connect(node: str) -> None:
        nonlocal counter
        work = [(node, iter(sorted(graph.get(node, ()))))]
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        while work:
            current, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    break
                if child in on_stack:
                    low[current] = min(low[current], index[child])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[current])
                if low[current] == index[current]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == current:
                            break
                    if len(component) > 1:
                        result.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(result)


def check(root: Path, packages: Iterable[str] = PRODUCTION) -> list[Offence]:
    """Every offence against the layering rules in the production packages under ``root``."""
    mods = modules(root, packages)
    known = set(mods)
    offences: list[Offence] = []
    graph: dict[str, set[str]] = {name: set() for name in mods}
    edges: dict[tuple[str, str], Import] = {}
    for name, path in mods.items():
        for imp in imports_of(root, path, known):
            source_top, target_top = _top(name), _top(imp.target)
            if _is_test_code(imp.target):
                offences.append(
                    Offence(imp.path, imp.line, "imports test code", f"{name} -> {imp.target}")
                )
            if source_top == CORE and target_top in DOMAINS and name not in CORE_MAY_IMPORT_DOMAINS:
                offences.append(
                    Offence(
                        imp.path,
                        imp.line,
                        "the core imports a domain",
                        f"{name} -> {imp.target} (only the app factory and the model registry may)",
                    )
                )
            if (
                source_top in DOMAINS
                and target_top in DOMAINS
                and source_top != target_top
                and imp.target.rsplit(".", 1)[-1] not in PUBLIC_MODULES
            ):
                offences.append(
                    Offence(
                        imp.path,
                        imp.line,
                        "a domain reaches into another",
                        f"{name} -> {imp.target} (use its services, events or schemas,"
                        " or a seam of hub/hooks.py)",
                    )
                )
            if imp.in_function and not imp.commented:
                offences.append(
                    Offence(
                        imp.path,
                        imp.line,
                        "an import inside a function without a comment saying why",
                        f"{name} -> {imp.target}",
                    )
                )
            if imp.target in known and imp.target != name:
                graph[name].add(imp.target)
                edges.setdefault((name, imp.target), imp)
    for cycle in _cycles(graph):
        members = set(cycle)
        links = sorted(edge for (a, b), edge in edges.items() if a in members and b in members)
        first = links[0] if links else None
        offences.append(
            Offence(
                first.path if first else str(mods[cycle[0]].relative_to(root)),
                first.line if first else 1,
                "import cycle",
                " ; ".join(f"{e.source} -> {e.target} ({e.path}:{e.line})" for e in links),
            )
        )
    return sorted(offences)
