"""The public surface: sorted, complete, documented ``__all__``; DESIGN.md names."""

from __future__ import annotations
import __future__

import importlib
import inspect
import re
import types
from typing import Any

import pytest

PACKAGES = ["runtime", "actors", "stores"]

# The contract of DESIGN.md ("names are fixed").
CONTRACT = {
    "runtime": [
        "entrypoint",
        "task",
        "Runtime",
        "Command",
        "interrupt",
        "add_messages",
        "get_store",
        "get_config",
        "get_stream_writer",
        "RetryPolicy",
        "HumanMessage",
        "AIMessage",
        "SystemMessage",
        "ToolMessage",
        "RemoveMessage",
    ],
    "stores": [
        "BaseStore",
        "Item",
        "SearchItem",
        "InMemoryStore",
        "RedisStore",
        "MemorySaver",
        "RedisSaver",
        "HashingEmbeddings",
        "OpenAIEmbeddings",
    ],
}


def isort_key(name: str) -> tuple[int, list[Any]]:
    """The order ruff's RUF022 keeps ``__all__`` in.

    SCREAMING_CASE constants first, then CamelCase classes, then the rest;
    a natural sort (digit runs compare as numbers) within each group.
    """
    if len(name) > 1 and name.isupper():
        group = 0
    elif name[:1].isupper():
        group = 1
    else:
        group = 2
    parts = [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name) if p]
    return group, [(0, p, "") if isinstance(p, int) else (1, 0, p) for p in parts]


def documented(obj: object) -> bool:
    """Whether ``obj`` carries its own non-empty docstring (not an inherited one)."""
    doc = vars(obj).get("__doc__") if inspect.isclass(obj) else obj.__doc__
    return isinstance(doc, str) and bool(doc.strip())


def public_names(module: types.ModuleType) -> set[str]:
    """Every public binding of a package ``__init__`` other than submodules."""
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType | __future__._Feature)
    }


@pytest.fixture(params=PACKAGES)
def package(request: pytest.FixtureRequest) -> types.ModuleType:
    return importlib.import_module(request.param)


def test_all_is_a_sorted_list_of_unique_strings(package: types.ModuleType) -> None:
    names = package.__all__
    assert isinstance(names, list)
    assert all(isinstance(n, str) for n in names)
    assert len(set(names)) == len(names), "duplicates in __all__"
    assert names == sorted(names, key=isort_key), (
        f"{package.__name__}.__all__ is not sorted"
    )


def test_all_names_exist(package: types.ModuleType) -> None:
    missing = [n for n in package.__all__ if not hasattr(package, n)]
    assert missing == []


def test_all_is_complete(package: types.ModuleType) -> None:
    unlisted = public_names(package) - set(package.__all__)
    assert unlisted == set(), f"public in {package.__name__} but not in __all__"


def test_classes_and_functions_in_all_are_documented(package: types.ModuleType) -> None:
    undocumented = [
        name
        for name in package.__all__
        if (
            inspect.isclass(obj := getattr(package, name, None))
            or inspect.isroutine(obj)
        )
        and not documented(obj)
    ]
    assert undocumented == []


@pytest.mark.parametrize(
    ("module", "name"),
    [(module, name) for module, names in CONTRACT.items() for name in names],
)
def test_design_contract_name_is_exported(module: str, name: str) -> None:
    package = importlib.import_module(module)
    assert hasattr(package, name), f"'from {module} import {name}' fails"
    assert name in package.__all__


def test_contract_names_import_in_one_statement() -> None:
    namespace: dict[str, object] = {}
    for module, names in CONTRACT.items():
        exec(
            f"from {module} import ({', '.join(names)})", namespace
        )  # the literal user-facing statement
    assert set(namespace) - {"__builtins__"} == {
        n for ns in CONTRACT.values() for n in ns
    }


def test_isort_key_orders_like_ruff() -> None:
    # the order `ruff check --select RUF022 --fix` produced for these names
    ruff_order = ["REMOVE_ALL", "T2", "T10", "X_1", "A", "ABc", "AIMessage", "Ab"]
    ruff_order += ["Runtime", "aB", "add", "task", "v2", "v10"]
    shuffled = ruff_order[1::2] + ruff_order[::2]
    assert sorted(shuffled, key=isort_key) == ruff_order


def test_documented_ignores_inherited_class_docstrings() -> None:
    class Base:
        """Documented."""

    class Child(Base):
        pass

    def bare() -> None:
        pass

    assert documented(Base)
    assert not documented(Child)
    assert not documented(bare)
