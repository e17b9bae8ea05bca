"""The dependency arrow ``runtime -> actors -> stores`` never points back.

Imports are read with ``ast`` from every module, so imports inside
functions, ``if TYPE_CHECKING:`` blocks, relative imports that climb out of
the package, and ``importlib.import_module("...")`` calls all count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# package -> top-level project packages it must never import
FORBIDDEN = {
    "stores": {"runtime", "actors"},
    "actors": {"runtime"},
}
# Only these modules may talk to Redis directly (STYLE.md rules 25 and 29).
REDIS_CLIENTS = {"redis", "redisvl", "hiredis"}


def module_name(path: Path, root: Path) -> str:
    """``stores/_base.py`` -> ``stores._base``; ``stores/__init__.py`` -> ``stores``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` names."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)] if node.level > 1 else package
    return ".".join([*base, node.module] if node.module else base)


def imported_modules(source: str, module: str, *, is_package: bool = False) -> set[str]:
    """Every absolute module the source imports, wherever the import sits."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = resolve(module, is_package, node)
            found.add(target)
            # `from . import runtime` / `from .. import runtime` name modules too
            found.update(
                f"{target}.{alias.name}" if target else alias.name
                for alias in node.names
            )
        elif isinstance(node, ast.Call) and (target := _dynamic_target(node)):
            found.add(target)
    return found


def _dynamic_target(call: ast.Call) -> str | None:
    """The module of ``importlib.import_module("m")`` or ``__import__("m")``."""
    func = call.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if name not in {"__import__", "import_module"} or not call.args:
        return None
    arg = call.args[0]
    return (
        arg.value
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
        else None
    )


def top_levels(modules: set[str]) -> set[str]:
    return {m.split(".")[0] for m in modules if m}


def sources(package: str, root: Path = ROOT) -> list[Path]:
    files = sorted((root / package).rglob("*.py"))
    assert files, f"no modules found under {package}/"
    return files


def scan(path: Path, root: Path = ROOT) -> set[str]:
    module = module_name(path, root)
    return imported_modules(
        path.read_text(encoding="utf-8"), module, is_package=path.name == "__init__.py"
    )


def violations(package: str, root: Path = ROOT) -> dict[str, list[str]]:
    """Module path -> forbidden top-level packages it imports."""
    found = {
        str(path.relative_to(root)): sorted(
            top_levels(scan(path, root)) & FORBIDDEN[package]
        )
        for path in sources(package, root)
    }
    return {path: bad for path, bad in found.items() if bad}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_lower_layers_never_import_upper_layers(package: str) -> None:
    assert violations(package) == {}


def test_only_stores_redis_imports_a_redis_client() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("runtime", "actors", "stores")
        for path in sources(package)
        if top_levels(scan(path)) & REDIS_CLIENTS
        and path.parent != ROOT / "stores" / "redis"
    ]
    assert offenders == []


def test_a_violation_in_a_nested_module_is_reported(tmp_path: Path) -> None:
    (tmp_path / "actors" / "sub").mkdir(parents=True)
    (tmp_path / "actors" / "__init__.py").write_text("from ._ok import x as x\n")
    (tmp_path / "actors" / "_ok.py").write_text("from stores import BaseStore\n")
    (tmp_path / "actors" / "sub" / "_bad.py").write_text(
        "def f():\n    from ...runtime import task\n    return task\n"
    )
    assert violations("actors", tmp_path) == {"actors/sub/_bad.py": ["runtime"]}


# -- the scanner itself ---------------------------------------------------------

SNEAKY = """
from __future__ import annotations
from typing import TYPE_CHECKING
import os.path
if TYPE_CHECKING:
    from runtime._types import Command
def late():
    import actors._system as s
    return s
class C:
    def m(self):
        from .. import runtime
        from .._errors import StoreError
        from . import sibling
        importlib.import_module("redis.asyncio")
        __import__("redisvl")
"""


def test_scanner_sees_every_kind_of_import() -> None:
    found = imported_modules(SNEAKY, "stores._memory")
    assert {"runtime._types", "actors._system", "os.path"} <= found
    assert "runtime" in found  # `from .. import runtime` climbs out of stores
    assert (
        "_errors" in found
    )  # `from .._errors` climbs out too (level 2 from stores._memory)
    assert {"stores", "stores.sibling"} <= found
    assert {"redis.asyncio", "redisvl"} <= found
    assert top_levels(found) & FORBIDDEN["stores"] == {"runtime", "actors"}


def test_scanner_resolves_relative_imports_in_a_package_init() -> None:
    source = "from ._base import BaseStore\nfrom .. import runtime\n"
    found = imported_modules(source, "stores", is_package=True)
    assert "stores._base" in found
    assert "runtime" in found


def test_module_names() -> None:
    assert module_name(ROOT / "stores" / "_base.py", ROOT) == "stores._base"
    assert module_name(ROOT / "actors" / "__init__.py", ROOT) == "actors"


# -- private modules stay private -----------------------------------------------

SHARED = {"stores._shared"}
"""The one private module that other packages may import (see its docstring)."""

MEASURES_INTERNALS = {"bench/transport.py", "bench/redis_stats.py", "bench/_tracing.py"}
"""Bench modules that measure one internal part (the Redis transport, its round
trips; the chat-model span, over a fake ``BaseChatModel``)."""


def private_imports(package: str, root: Path = ROOT) -> dict[str, list[str]]:
    """Module path -> private modules of *other* project packages it imports.

    ``runtime.models`` may use ``runtime._messages`` (same package); nothing
    may reach into another package's ``_private`` modules except SHARED.
    bench/ and examples/ use the public API only.
    """
    found: dict[str, list[str]] = {}
    for path in sources(package, root):
        bad = sorted(
            {
                private
                for m in scan(path, root)
                if m.split(".")[0] in {"runtime", "actors", "stores"} - {package}
                and (private := _private_part(m)) is not None
                and private not in SHARED
            }
        )
        where = str(path.relative_to(root))
        if bad and where not in MEASURES_INTERNALS:
            found[where] = bad
    return found


def _private_part(module: str) -> str | None:
    """``stores._base.ensure_op`` -> ``stores._base``; None for a public module."""
    parts = module.split(".")
    for i, part in enumerate(parts[1:], start=1):
        if part.startswith("_"):
            return ".".join(parts[: i + 1])
    return None


@pytest.mark.parametrize(
    "package", ["runtime", "actors", "stores", "bench", "examples"]
)
def test_no_package_imports_another_packages_private_modules(package: str) -> None:
    assert private_imports(package) == {}


def test_a_private_import_across_packages_is_reported(tmp_path: Path) -> None:
    (tmp_path / "actors").mkdir()
    (tmp_path / "actors" / "_ok.py").write_text(
        "from stores._shared import new_signal\nfrom stores._base import ensure_op\n"
    )
    assert private_imports("actors", tmp_path) == {"actors/_ok.py": ["stores._base"]}


# -- modules stay small (STYLE.md: modules <= 400 lines) ------------------------

MAX_MODULE_LINES = 400


def oversized(root: Path = ROOT) -> dict[str, int]:
    """Module path -> line count, for every module over MAX_MODULE_LINES."""
    found: dict[str, int] = {}
    for package in ("runtime", "actors", "stores"):
        for path in sources(package, root):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_MODULE_LINES:
                found[str(path.relative_to(root))] = lines
    return found


def test_every_module_is_at_most_400_lines() -> None:
    assert oversized() == {}


def test_a_long_nested_module_is_reported(tmp_path: Path) -> None:
    for package in ("runtime", "actors", "stores/redis"):
        (tmp_path / package).mkdir(parents=True)
        (tmp_path / package / "_ok.py").write_text("x = 1\n" * MAX_MODULE_LINES)
    (tmp_path / "stores" / "redis" / "_long.py").write_text(
        "x = 1\n" * (MAX_MODULE_LINES + 1)
    )
    assert oversized(tmp_path) == {"stores/redis/_long.py": MAX_MODULE_LINES + 1}
