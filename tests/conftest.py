"""Root fixtures: every async test runs where services run it.

Four hosts: anyio's own asyncio runner (debug mode), a plain asyncio loop
as ``asyncio.run`` or uvicorn runs it, uvloop (also plain), and trio.
anyio's pytest runner sets sniffio's context variable for the whole test,
which a bare loop does not: code that calls anyio from a bare
``loop.call_soon`` callback passes under anyio's runner and fails under
``asyncio.run``. So on the plain hosts the test body runs with that
variable cleared, as it would under ``asyncio.run``.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest
import sniffio
import uvloop

_PLAIN: dict[str, Any] = {"debug": False}  # as services run it
_UVLOOP: dict[str, Any] = {"loop_factory": uvloop.new_event_loop}


@pytest.fixture(
    scope="session",
    params=[
        pytest.param(("asyncio", {"debug": True}), id="asyncio"),
        pytest.param(("asyncio", _PLAIN), id="asyncio-plain"),
        pytest.param(("asyncio", _UVLOOP), id="uvloop"),
        pytest.param("trio", id="trio"),
    ],
)
def anyio_backend(request: pytest.FixtureRequest) -> object:
    return request.param


def _is_plain(backend: object) -> bool:
    return isinstance(backend, tuple) and any(
        backend[1] is options for options in (_PLAIN, _UVLOOP)
    )


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> None:
    """On the plain hosts, run the test body without sniffio's variable set."""
    backend = pyfuncitem.funcargs.get("anyio_backend")
    if not _is_plain(backend) or not inspect.iscoroutinefunction(pyfuncitem.obj):
        return
    original = pyfuncitem.obj

    @functools.wraps(original)
    async def as_under_asyncio_run(**kwargs: Any) -> Any:
        sniffio.current_async_library_cvar.set(None)
        return await original(**kwargs)

    pyfuncitem.obj = as_under_asyncio_run
