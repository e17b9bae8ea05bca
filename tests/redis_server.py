"""The Redis that tests use: one per test session, started by the project itself.

``session_url()`` returns ``REDIS_URL`` when it is set (a real Redis 8 or
Redis Stack), else starts one ``EmbeddedRedis`` for the whole session (the
launcher under test) and stops it at exit. Each test isolates itself with
``new_prefix()`` and removes its keys and index with ``drop_prefix()``.
``admin()`` is a plain sync client for inspecting keys (TTLs, hash tags).
"""

from __future__ import annotations

import atexit
import os
import threading
import uuid
from typing import TYPE_CHECKING, Any

import pytest
import redis

from stores.redis._embedded import EmbeddedRedis
from stores.redis._store import RedisStore

if TYPE_CHECKING:
    from contextlib import AsyncExitStack

    from stores._base import BaseStore

_lock = threading.Lock()
_server: EmbeddedRedis | None = None
_url: str | None = None
_admin: redis.Redis | None = None


def session_url() -> str:
    """The url of the session's Redis (``REDIS_URL`` or the embedded one), started on first use."""
    global _server, _url
    with _lock:
        if _url is None:
            external = os.environ.get("REDIS_URL")
            if external:
                _url = external
            else:
                _server = EmbeddedRedis().start()
                atexit.register(stop_session_server)
                _url = _server.url
        return _url


def stop_session_server() -> None:
    """Close the admin client and stop the embedded server, if this module started one."""
    global _server, _url, _admin
    with _lock:
        if _admin is not None:
            _admin.close()
            _admin = None
        if _server is not None:
            _server.stop()
            _server = None
            _url = None


def admin() -> redis.Redis:
    """A sync client on the session's Redis, for looking at keys from tests."""
    global _admin
    url = session_url()
    with _lock:
        if _admin is None:
            _admin = redis.Redis.from_url(url, protocol=2)
        return _admin


def has_query_engine() -> bool:
    """Whether the session's Redis answers FT._LIST (RediSearch is loaded)."""
    try:
        admin().execute_command("FT._LIST")
    except redis.ResponseError:
        return False
    return True


def new_prefix() -> str:
    """A key prefix no other test uses."""
    return f"t{uuid.uuid4().hex[:12]}"


def keys_of(prefix: str) -> list[bytes]:
    """Every key under ``prefix:``."""
    return sorted(admin().scan_iter(match=f"{prefix}:*", count=1000))


def drop_prefix(prefix: str) -> None:
    """Drop the store index ``<prefix>:idx`` and delete every key under ``prefix:``."""
    client = admin()
    try:
        client.execute_command("FT.DROPINDEX", f"{prefix}:idx", "DD")
    except redis.ResponseError:
        pass  # no index under this prefix
    keys = keys_of(prefix)
    if keys:
        client.delete(*keys)


async def redis_store_factory(stack: AsyncExitStack, index: Any, ttl: Any) -> BaseStore:
    """Contract-suite factory: a RedisStore on a fresh prefix, dropped at teardown."""
    url = session_url()
    if not has_query_engine():
        pytest.skip("this Redis has no query engine (FT._LIST fails)")
    prefix = new_prefix()
    store = RedisStore(url, index=index, ttl=ttl, prefix=prefix)
    stack.callback(drop_prefix, prefix)
    return await stack.enter_async_context(store)
