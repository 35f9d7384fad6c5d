"""Dependencies point one way (issue 8): the layers drawn at the top of docs/architecture.md are the
rule. A capability imports only `core` and capabilities in lower layers; route modules may also import
`chalicelib.edge` (who is calling), and nothing else does; no import cycle anywhere in chalicelib/ or
local/. Lazy imports (inside functions, `lazy_module("…")`, TYPE_CHECKING blocks) count the same: they
are dependencies all the same."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "chalicelib"
ROUTE_MODULES = re.compile(r"(^|_)routes$")
PICTURE = re.compile(r"<!-- layers -->\n```text\n(.*?)```", re.S)


def layers() -> dict[str, int]:
    """Capability → rank, from the picture in docs/architecture.md (top line = highest layer)."""
    block = PICTURE.search((ROOT / "docs" / "architecture.md").read_text(encoding="utf-8"))
    assert block, "docs/architecture.md must open with the layer picture (<!-- layers --> + a text block)"
    rows = [line.split("  ")[0].strip() for line in block.group(1).splitlines() if line.strip()]
    ranks: dict[str, int] = {}
    for rank, row in enumerate(reversed(rows)):
        for name in row.split("·"):
            ranks[name.strip()] = rank
    return ranks


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, bool]]:
    """(imported module, at import time?) for every import in the file, lazy ones included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[str, bool]] = []
    top_level = {id(node) for node in tree.body}
    for node in ast.walk(tree):
        eager = id(node) in top_level
        if isinstance(node, ast.Import):
            found += [(alias.name, eager) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(f"{node.module}.{alias.name}", eager) for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) == "lazy_module":
            found += [
                (arg.value, False) for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            ]
    return found


def capability(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "chalicelib" and len(parts) > 1 else None


def test_every_capability_has_a_place_in_the_picture() -> None:
    ranks = layers()
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert packages == set(ranks), f"not drawn: {sorted(packages - set(ranks))}; gone: {sorted(set(ranks) - packages)}"


def test_imports_point_down_the_layers() -> None:
    ranks = layers()
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = capability(module_name(path, PACKAGE))
        if source is None:
            continue
        is_route = bool(ROUTE_MODULES.search(path.stem))
        for target_module, _ in imports(path):
            target = capability(target_module)
            if target is None or target == source:
                continue
            if target == "edge":
                if not is_route:
                    wrong.append(f"{path.relative_to(ROOT)} → {target_module} (only routes ask who is calling)")
                continue
            if ranks[target] >= ranks[source]:
                wrong.append(f"{path.relative_to(ROOT)} → {target_module} ({source} is not above {target})")
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_chalicelib_stands_alone() -> None:
    """The Lambda bundle is chalicelib/ + app.py: nothing in it may need local/, infra/, bench/ or tests/."""
    wrong = [
        f"{path.relative_to(ROOT)} → {module}"
        for path in PACKAGE.rglob("*.py")
        for module, _ in imports(path)
        if module.split(".")[0] in {"local", "infra", "bench", "tests"}
    ]
    assert not wrong, wrong


def _cycles(root: Path) -> list[list[str]]:
    """Cycles among the modules under `root` (every import, lazy ones too)."""
    modules = {module_name(path, root): path for path in root.rglob("*.py")}
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        for imported, _ in imports(path):
            # `from pkg import mod` names a module or a symbol: take the longest known module
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(target + "."):
                graph[name].add(target)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append([*trail[trail.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[node] = 2

    for start in sorted(modules):
        if start not in state:
            visit(start, [start])
    return cycles


def test_no_import_cycles_in_chalicelib() -> None:
    assert _cycles(PACKAGE) == []


def test_no_import_cycles_in_the_local_stack() -> None:
    assert _cycles(ROOT / "local") == []


def test_the_checks_catch_what_they_should(tmp_path: Path) -> None:
    """The rules above can fail: an upward import and a cycle, planted in a scratch package."""
    package = tmp_path / "chalicelib"
    (package / "low").mkdir(parents=True)
    (package / "high").mkdir()
    for sub in ("", "low", "high"):
        (package / sub / "__init__.py").write_text("")
    (package / "low" / "service.py").write_text("from chalicelib.high import service\n")
    (package / "high" / "service.py").write_text("def f():\n    from chalicelib.low import service\n")
    assert _cycles(package) == [["chalicelib.high.service", "chalicelib.low.service", "chalicelib.high.service"]]
    assert ("chalicelib.high.service", True) in imports(package / "low" / "service.py")
