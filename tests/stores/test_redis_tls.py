"""``rediss://``: the saver and the store over TLS, on asyncio and trio.

The embedded redis-server is built without TLS, so the tests put a real
TLS server in front of it: a proxy on loopback (Python's ssl, certificates
from ``trustme``) that terminates TLS and forwards the bytes to the
session's Redis. What is under test is our side: the handshake, the url's
``ssl_*`` options, certificate errors, and pooled connections that stay in
use (a TLS 1.3 server sends session tickets after the handshake, which a
careless staleness check would take for a closed connection).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import anyio.from_thread
import pytest
import trustme
from anyio.abc import SocketStream
from anyio.streams.tls import TLSListener

from stores import HashingEmbeddings, RedisSaver, RedisStore
from stores._errors import StoreUnavailableError
from stores.redis._address import Address
from tests.redis_server import drop_prefix, new_prefix

pytestmark = pytest.mark.redis


class TLSProxy:
    """A TLS server on 127.0.0.1 that forwards each connection to a plain Redis."""

    def __init__(self, redis_url: str, ca: trustme.CA, *, client_ca: bool) -> None:
        target = urlsplit(redis_url)
        self._target = (target.hostname or "127.0.0.1", target.port or 6379)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(self.context)
        if client_ca:  # mutual TLS: clients must show a certificate from ``ca``
            ca.configure_trust(self.context)
            self.context.verify_mode = ssl.CERT_REQUIRED
        self.accepted = 0
        self.port = 0

    async def serve(self, *, task_status: Any = anyio.TASK_STATUS_IGNORED) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        tls = TLSListener(listener, self.context, standard_compatible=False)
        async with tls:
            task_status.started()
            await tls.serve(self._forward)

    async def _forward(self, client: Any) -> None:
        self.accepted += 1
        async with (
            client,
            await anyio.connect_tcp(*self._target) as server,
            anyio.create_task_group() as tg,
        ):
            tg.start_soon(_pump, client, server, tg.cancel_scope)
            await _pump(server, client, tg.cancel_scope)


async def _pump(source: Any, sink: SocketStream, scope: anyio.CancelScope) -> None:
    try:
        async for chunk in source:
            await sink.send(chunk)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, ssl.SSLError):
        pass
    scope.cancel()  # one side closed: close both


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def _run_proxy(
    redis_url: str, ca: trustme.CA, *, client_ca: bool
) -> Iterator[TLSProxy]:
    proxy = TLSProxy(redis_url, ca, client_ca=client_ca)
    with anyio.from_thread.start_blocking_portal() as portal:
        future, _ = portal.start_task(proxy.serve)
        yield proxy
        future.cancel()


@pytest.fixture(scope="module")
def proxy(redis_url_module: str, ca: trustme.CA) -> Iterator[TLSProxy]:
    yield from _run_proxy(redis_url_module, ca, client_ca=False)


@pytest.fixture(scope="module")
def mtls_proxy(redis_url_module: str, ca: trustme.CA) -> Iterator[TLSProxy]:
    yield from _run_proxy(redis_url_module, ca, client_ca=True)


@pytest.fixture(scope="module")
def redis_url_module() -> str:
    from tests.redis_server import has_query_engine, session_url

    url = session_url()
    if not has_query_engine():
        pytest.skip("this Redis has no query engine (FT._LIST fails)")
    return url


def _counter(saver: RedisSaver) -> Any:
    from runtime import entrypoint

    @entrypoint(checkpointer=saver)
    async def count(step: int, *, previous: int | None = None) -> int:
        return (previous or 0) + step

    return count


async def test_the_saver_runs_over_tls_on_few_connections(
    proxy: TLSProxy, ca_file: Path
) -> None:
    url = f"rediss://127.0.0.1:{proxy.port}/0?ssl_ca_certs={ca_file}"
    before = proxy.accepted
    async with RedisSaver(url, prefix=new_prefix()) as saver:
        count = _counter(saver)
        cfg = {"configurable": {"thread_id": "tls"}}
        for _ in range(50):
            await count.ainvoke(1, cfg)
        for _ in range(5):  # idle connections are checked before reuse
            await anyio.sleep(0.05)
            await count.ainvoke(1, cfg)
        assert (await count.aget_state(cfg)).values == 55
        await saver.adelete_thread("tls")
    # pooled connections were reused, not taken for closed and replaced
    assert proxy.accepted - before <= 3


async def test_the_store_searches_over_tls(proxy: TLSProxy, ca_file: Path) -> None:
    url = f"rediss://localhost:{proxy.port}?ssl_ca_certs={ca_file}"
    prefix = new_prefix()
    index = {"dims": 32, "embed": HashingEmbeddings(dims=32)}
    try:
        async with RedisStore(url, index=index, prefix=prefix) as store:
            await store.aput(("docs",), "a", {"text": "tea with lemon"})
            await store.aput(("docs",), "b", {"text": "engine oil"})
            hits = await store.asearch(("docs",), query="lemon tea", limit=1)
            assert [h.key for h in hits] == ["a"]
    finally:
        drop_prefix(prefix)


async def test_an_untrusted_certificate_fails_clearly(proxy: TLSProxy) -> None:
    url = f"rediss://127.0.0.1:{proxy.port}"  # the system CAs don't know trustme's
    async with RedisSaver(url, prefix=new_prefix()) as saver:
        with anyio.fail_after(20), pytest.raises(StoreUnavailableError) as caught:
            await saver.aload("t")
    assert "TLS handshake failed" in str(caught.value)
    assert "ssl_ca_certs" in str(caught.value)


async def test_cert_reqs_none_skips_verification(proxy: TLSProxy) -> None:
    url = f"rediss://127.0.0.1:{proxy.port}?ssl_cert_reqs=none"
    async with RedisSaver(url, prefix=new_prefix()) as saver:
        assert (await saver.aload("nobody")).latest is None


async def test_a_client_certificate_for_mutual_tls(
    mtls_proxy: TLSProxy, ca: trustme.CA, ca_file: Path, tmp_path: Path
) -> None:
    cert = ca.issue_cert("client@example.org")
    certfile, keyfile = tmp_path / "client.pem", tmp_path / "client.key"
    cert.cert_chain_pems[0].write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    base = f"rediss://127.0.0.1:{mtls_proxy.port}?ssl_ca_certs={ca_file}"
    with_cert = f"{base}&ssl_certfile={certfile}&ssl_keyfile={keyfile}"
    async with RedisSaver(with_cert, prefix=new_prefix()) as saver:
        assert (await saver.aload("nobody")).latest is None
    async with RedisSaver(base, prefix=new_prefix()) as saver:
        with anyio.fail_after(20), pytest.raises(StoreUnavailableError):
            await saver.aload("nobody")  # the server wants a certificate


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("rediss://h?ssl_cert_reqs=maybe", "ssl_cert_reqs must be one of"),
        ("rediss://h?ssl_check_hostname=perhaps", "ssl_check_hostname must be true"),
        ("rediss://h?ssl_ca_certs=/no/such/ca.pem", "cannot read the TLS files"),
        ("rediss://h?ssl_keyfile=/k.pem", "ssl_keyfile needs ssl_certfile"),
        ("redis://h?ssl_cert_reqs=none", "not rediss://"),
        ("rediss://h?ssl_verify=no", "unknown options"),
    ],
)
def test_bad_tls_options_are_named(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Address(url)


def test_tls_defaults_verify_the_server() -> None:
    context = Address("rediss://cache.example.org").ssl_context
    assert context is not None
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    relaxed = Address("rediss://h?ssl_cert_reqs=none").ssl_context
    assert relaxed is not None
    assert relaxed.verify_mode == ssl.CERT_NONE and not relaxed.check_hostname
    assert Address("redis://h").ssl_context is None
