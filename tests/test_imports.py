"""What a fresh process pays to import the library: heavy modules load on first use."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HEAVY = (
    "numpy",
    "openai",
    "anthropic",
    "langchain_core",
    "redisvl",
    "redis",
    "opentelemetry.sdk",
)
"""Never loaded by an import of the library, ``stores.redis`` included."""

WITHOUT_REDIS = (
    *HEAVY,
    "stores.redis",
    "asyncio",
    "concurrent.futures",
    "anyio.from_thread",
    "zoneinfo",
    "pickle",
    "opentelemetry.propagate",
    "actors._spans",
    "runtime._cluster",
    "runtime._forward",
    "runtime._wire",
)
"""Also not loaded until used: the Redis package (its transport, asyncio, the
embedded server's launcher), the sync twins' thread hop, the tz database,
tracing's propagators and SDK-side span class, the cluster's code."""


def _loaded(code: str, modules: tuple[str, ...], **env: str) -> list[str]:
    """Run ``code`` in a fresh interpreter; which of ``modules`` it left loaded."""
    probe = f"{code}\nimport sys\nprint(','.join(m for m in {modules!r} if m in sys.modules))\n"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
    )
    return [m for m in out.stdout.strip().split(",") if m]


@pytest.mark.parametrize("modules", ["runtime", "runtime, stores", "stores, actors"])
def test_importing_the_library_loads_nothing_it_does_not_use(modules: str) -> None:
    assert _loaded(f"import {modules}", WITHOUT_REDIS) == []


def test_importing_the_redis_package_loads_no_client_sdk_or_launcher() -> None:
    lazy = (*HEAVY, "stores.redis._embedded", "tempfile", "shutil")
    assert _loaded("import runtime, stores, stores.redis", lazy) == []


def test_the_lazy_names_are_the_real_ones() -> None:
    code = (
        "import actors, actors._spans, runtime, runtime._cluster, stores, stores.redis\n"
        "assert stores.RedisSaver is stores.redis.RedisSaver\n"
        "from stores import ClusterBackend, EmbeddedRedis, RedisCache, RedisStore, parse_lease\n"
        "assert (ClusterBackend, EmbeddedRedis, RedisCache, RedisStore, parse_lease) == (\n"
        "    stores.redis.ClusterBackend, stores.redis.EmbeddedRedis, stores.redis.RedisCache,\n"
        "    stores.redis.RedisStore, stores.redis.parse_lease)\n"
        "import stores.redis._embedded as embedded\n"
        "assert stores.EmbeddedRedis is stores.redis.EmbeddedRedis is embedded.EmbeddedRedis\n"
        "assert actors.LeanSpan is actors._spans.LeanSpan\n"
        "assert runtime.ClusterStats is runtime._cluster.ClusterStats\n"
        "lazy = ((stores, 'NoSuchStore'), (stores.redis, 'NoSuchRedis'), (actors, 'NoSuchActor'))\n"
        "for module, name in lazy:\n"
        "    try:\n"
        "        getattr(module, name)\n"
        "    except AttributeError as exc:\n"
        "        assert name in str(exc)\n"
        "    else:\n"
        "        raise AssertionError(name)\n"
    )
    assert _loaded(code, ()) == []


def test_a_turn_in_memory_loads_no_redis_cluster_or_sdk() -> None:
    code = (
        "import anyio\n"
        "from runtime import Runtime, entrypoint\n"
        "from stores import InMemoryStore, MemorySaver\n"
        "@entrypoint(checkpointer=MemorySaver(), store=InMemoryStore())\n"
        "async def echo(x):\n"
        "    return x\n"
        "async def main():\n"
        "    async with Runtime():\n"
        "        cfg = {'configurable': {'thread_id': 't'}}\n"
        "        assert await echo.ainvoke(1, cfg) == 1\n"
        "anyio.run(main, backend='trio')\n"
    )
    lazy = (*HEAVY, "stores.redis", "asyncio", "actors._spans", "runtime._cluster")
    assert _loaded(code, lazy) == []


def test_the_sdk_loads_when_tracing_is_switched_on() -> None:
    code = (
        "import sys, anyio\n"
        "from runtime import Runtime\n"
        "async def main():\n"
        "    async with Runtime(tracing=False):\n"
        "        assert 'opentelemetry.sdk' not in sys.modules\n"
        "    async with Runtime(tracing=True):\n"
        "        pass\n"
        "anyio.run(main)\n"
    )
    off = {"OTEL_TRACES_EXPORTER": "none", "OTEL_METRICS_EXPORTER": "none"}
    assert _loaded(code, ("opentelemetry.sdk", "actors._spans"), **off) == [
        "opentelemetry.sdk",
        "actors._spans",
    ]


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
