"""Runtime on Redis: a saver on a fresh prefix, on asyncio and trio."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import pytest

from stores import RedisSaver
from tests.redis_server import admin, has_query_engine, new_prefix, session_url


@pytest.fixture
def redis_url() -> str:
    url = session_url()
    if not has_query_engine():
        pytest.skip("this Redis has no query engine (FT._LIST failed)")
    return url


@pytest.fixture
async def redis_saver(redis_url: str) -> AsyncGenerator[RedisSaver]:
    prefix = new_prefix()
    async with RedisSaver(redis_url, prefix=prefix) as saver:
        yield saver
    keys = list(admin().scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        admin().delete(*keys)
