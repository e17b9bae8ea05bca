"""What a fresh process pays to import the library: heavy modules load on first use."""

from __future__ import annotations

import subprocess
import sys

import pytest

LAZY = ("numpy", "openai", "anthropic", "langchain_core", "redisvl", "redis")


@pytest.mark.parametrize("modules", ["runtime", "runtime, stores, stores.redis"])
def test_importing_the_library_loads_no_heavy_module(modules: str) -> None:
    code = (
        f"import sys; import {modules}; "
        f"print(','.join(m for m in {LAZY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == ""


def test_numpy_loads_with_the_first_embedding() -> None:
    code = (
        "import sys, anyio\n"
        "from stores import InMemoryStore, HashingEmbeddings\n"
        "async def main():\n"
        "    store = InMemoryStore(index={'dims': 8, 'embed': HashingEmbeddings(8)})\n"
        "    assert 'numpy' not in sys.modules\n"
        "    await store.aput(('a',), 'k', {'text': 'hello'})\n"
        "    found = await store.asearch(('a',), query='hello')\n"
        "    print(len(found), 'numpy' in sys.modules)\n"
        "anyio.run(main)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["1", "True"]
