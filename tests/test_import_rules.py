"""design.md import rules: engine/, resources/ and routing/ import no asyncio, aiohttp or grpc; jwks/ never decides."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "meshgate"
PURE_FORBIDDEN = ("asyncio", "aiohttp", "grpc", "uvloop", "httptools", "meshgate.fronts", "meshgate.jwks")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def _files(package: str) -> list[Path]:
    return sorted((SRC / package).rglob("*.py"))


@pytest.mark.parametrize(
    "path", _files("engine") + _files("resources") + _files("routing"), ids=lambda p: p.name
)
def test_engine_and_resources_stay_pure(path: Path) -> None:
    bad = {
        m for m in imported_modules(path) if m.split(".")[0] in PURE_FORBIDDEN or m.startswith(PURE_FORBIDDEN)
    }
    assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", _files("jwks"), ids=lambda p: p.name)
def test_jwks_never_decides(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m in ("meshgate.engine.engine", "meshgate.engine.authz")}
    assert not bad, f"{path.relative_to(SRC)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", _files("engine"), ids=lambda p: p.name)
def test_engine_never_reads_the_clock(path: Path) -> None:
    """`now` is an argument: a clock read inside the engine would make decisions untestable."""
    text = path.read_text()
    assert "time.time(" not in text and "datetime.now(" not in text, path.name
