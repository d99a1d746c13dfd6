"""The layout's rules (docs/architecture.md "Layers"), checked on the source itself.

Every import counts — at the top, inside a function, under TYPE_CHECKING — because each one is a
dependency a reader has to follow. The rules: a package imports only packages of lower layers; no
two modules import each other, even through others; the engine layers do no I/O and read no clock;
the key store never decides; modules stay under 300 lines and packages under 15 modules.
"""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "meshgate"

# Lowest first. A package may import its own modules and those of packages in lower layers only;
# packages sharing a layer do not import each other.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("", "errors"),  # the package root (its version) and the errors every layer raises
    ("jose",),  # tokens and key sets on the wire
    ("config",),  # Istio resources: load, validate, select (inline JWKS are parsed with jose)
    ("authn",),  # Envoy jwt_authn
    ("authz",),  # Envoy RBAC: reads authn's identity, as RBAC reads jwt_authn's metadata
    ("engine", "routing"),  # the facade deciding a request; the compiled routing table
    ("keystore",),  # fetches key sets (only jose's values: see test_keystore_never_decides)
    ("custom",),  # asking CUSTOM ext_authz providers
    ("server",),  # what every serving process shares
    ("gateway", "extauthz", "policytest"),  # the fronts, and `meshgate test`'s machinery
    ("cli",),  # the commands
    ("__main__",),  # `python -m meshgate`
)
PURE = ("jose", "config", "authn", "authz", "engine", "routing")  # no I/O, no event loop, no clock
IMPURE_MODULES = ("asyncio", "aiohttp", "grpc", "uvloop", "httptools")
MAX_MODULE_LINES = 300
MAX_PACKAGE_MODULES = 15

Graph = Mapping[str, set[str]]


def module_name(path: Path, src: Path) -> str:
    parts = path.relative_to(src).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files(src: Path = SRC) -> list[Path]:
    return sorted((src / ROOT).rglob("*.py"))


def imports_of(path: Path, src: Path, modules: set[str]) -> set[str]:
    """Every module `path` imports, wherever the statement stands; `from pkg import mod` names the module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(
                f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in modules
            )
    return found


def module_graph(src: Path = SRC) -> dict[str, set[str]]:
    """meshgate module → the meshgate modules it imports (a package's own __init__ excluded)."""
    files = {module_name(p, src): p for p in source_files(src)}
    modules = set(files)
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        targets = {m for m in imports_of(path, src, modules) if m in modules}
        graph[name] = {m for m in targets if m != name and not name.startswith(m + ".")}
    return graph


def cycles(graph: Graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_of(package: str) -> int:
    for level, packages in enumerate(LAYERS):
        if package in packages:
            return level
    raise AssertionError(f"package {package!r} is in no layer: add it to LAYERS")


def layer_violations(graph: Graph) -> list[str]:
    bad = []
    for module, targets in sorted(graph.items()):
        here = package_of(module)
        for target in sorted(targets):
            there = package_of(target)
            if there != here and layer_of(there) >= layer_of(here):
                bad.append(f"{module} imports {target} ({there!r} is not below {here!r})")
    return bad


GRAPH = module_graph()


def test_every_package_has_a_layer() -> None:
    for module in GRAPH:
        layer_of(package_of(module))


def test_lower_layers_never_import_higher_ones() -> None:
    assert layer_violations(GRAPH) == []


def test_no_import_cycle_between_modules() -> None:
    assert cycles(GRAPH) == []


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"a"}}, [["a", "b"]]),
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ],
    ids=["two", "three-with-a-tail", "none"],
)
def test_cycle_finder(graph: dict[str, set[str]], expected: list[list[str]]) -> None:
    assert cycles(graph) == expected


@pytest.mark.parametrize("where", ["top", "function", "type-checking"])
def test_a_planted_cycle_is_reported(tmp_path: Path, where: str) -> None:
    """A copy of the source where jose/b64.py imports jose/jws.py back, in each place an import hides."""
    shutil.copytree(SRC / ROOT, tmp_path / ROOT)
    b64 = tmp_path / ROOT / "jose" / "b64.py"
    planted = {
        "top": "from meshgate.jose.jws import parse_jwt\n",
        "function": "def _planted() -> None:\n    from meshgate.jose import jws\n",
        "type-checking": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import meshgate.jose.jws\n",
    }[where]
    b64.write_text(b64.read_text() + "\n" + planted)
    found = cycles(module_graph(tmp_path))
    assert any({"meshgate.jose.b64", "meshgate.jose.jws"} <= set(c) for c in found), found


def test_a_planted_upward_import_is_reported() -> None:
    graph = {**GRAPH, "meshgate.jose.b64": {*GRAPH["meshgate.jose.b64"], "meshgate.engine.engine"}}
    assert layer_violations(graph) == [
        "meshgate.jose.b64 imports meshgate.engine.engine ('engine' is not below 'jose')"
    ]


def _in(packages: Iterable[str]) -> list[Path]:
    return [p for p in source_files() if package_of(module_name(p, SRC)) in packages]


@pytest.mark.parametrize("path", _in(PURE), ids=lambda p: str(p.relative_to(SRC / ROOT)))
def test_engine_layers_do_no_io(path: Path) -> None:
    names = imports_of(path, SRC, set())
    bad = {n for n in names if n.split(".")[0] in IMPURE_MODULES}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", _in(PURE), ids=lambda p: str(p.relative_to(SRC / ROOT)))
def test_engine_layers_never_read_the_clock(path: Path) -> None:
    """`now` is an argument: a clock read inside would make decisions untestable."""
    text = path.read_text()
    assert "time.time(" not in text and "datetime.now(" not in text and "monotonic(" not in text


@pytest.mark.parametrize("path", _in(("keystore",)), ids=lambda p: p.name)
def test_keystore_never_decides(path: Path) -> None:
    """The key store fetches key sets; only jose's values (and the errors) are its business."""
    own = {m for m in imports_of(path, SRC, set(GRAPH)) if m in GRAPH}
    bad = {m for m in own if package_of(m) not in ("", "errors", "jose", "keystore")}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", source_files(), ids=lambda p: str(p.relative_to(SRC / ROOT)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(SRC)}: {lines} lines"


def test_packages_stay_small() -> None:
    sizes: dict[Path, int] = {}
    for path in source_files():
        sizes[path.parent] = sizes.get(path.parent, 0) + 1
    big = {str(d.relative_to(SRC)): n for d, n in sizes.items() if n > MAX_PACKAGE_MODULES}
    assert not big
