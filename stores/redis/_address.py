"""Where a Redis is and how to log in: the url, parsed once per saver or store.

``redis://`` and ``unix://`` urls connect in the clear, ``rediss://`` over
TLS. The TLS options take redis-py's names, so a url written for redis-py
or LangGraph's Redis checkpointer works unchanged:

- ``ssl_ca_certs=/path/ca.pem``: the CAs to trust (default: the system's);
- ``ssl_cert_reqs=required|optional|none``: whether the server's
  certificate must verify (``none`` skips verification: testing only);
- ``ssl_check_hostname=true|false``: whether the certificate must name the
  host (default: true when verifying);
- ``ssl_certfile=...&ssl_keyfile=...``: a client certificate (mutual TLS).
"""

from __future__ import annotations

import ssl
from typing import Any, Final, final
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_CONNECTIONS: Final = 64
"""Connections per client (per event loop) unless the url sets ``max_connections``."""

_TLS_OPTIONS: Final = frozenset(
    {
        "ssl_ca_certs",
        "ssl_cert_reqs",
        "ssl_check_hostname",
        "ssl_certfile",
        "ssl_keyfile",
    }
)
_URL_OPTIONS: Final = (
    frozenset({"db", "password", "username", "max_connections"}) | _TLS_OPTIONS
)
_CERT_REQS: Final = {
    "required": ssl.CERT_REQUIRED,
    "optional": ssl.CERT_OPTIONAL,
    "none": ssl.CERT_NONE,
}
_BOOLEANS: Final = {
    "true": True,
    "yes": True,
    "1": True,
    "false": False,
    "no": False,
    "0": False,
}


@final
class Address:
    """Where a Redis is and how to log in: parsed from a url."""

    __slots__ = (
        "db", "host", "max_connections", "password", "path", "port", "ssl_context",
        "username",
    )  # fmt: skip

    def __init__(self, url: str) -> None:
        """Parse ``redis://[[user]:password@]host[:port][/db][?opts]``, ``rediss://...``
        (TLS) or ``unix:///path[?db=n&password=...]``. Options: ``db``,
        ``password``, ``username``, ``max_connections``, and for ``rediss://``
        the ``ssl_*`` options of the module docstring.

        Raises:
            ValueError: for another scheme, an unknown option, a bad number or
                TLS setting, or a certificate file that cannot be read.
        """
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        unknown = sorted(set(query) - _URL_OPTIONS)
        if unknown:
            raise ValueError(
                f"the Redis url {_hide(url)!r} has unknown options {unknown}; "
                f"it may set {sorted(_URL_OPTIONS)}"
            )
        self.path: str | None = None
        self.host, self.port = "localhost", 6379
        db = query.get("db")
        if parts.scheme == "unix":
            self.path = unquote(parts.path)
        elif parts.scheme in ("redis", "rediss"):
            self.host = unquote(parts.hostname or "localhost")
            self.port = _number(url, "port", lambda: parts.port or 6379)
            db = db or parts.path.lstrip("/") or None
        else:
            raise ValueError(
                f"the Redis url {_hide(url)!r} must start with redis://, rediss:// or unix://"
            )
        self.ssl_context: ssl.SSLContext | None = None
        if parts.scheme == "rediss":
            self.ssl_context = _tls_context(url, query)
        elif set(query) & _TLS_OPTIONS:
            raise ValueError(
                f"the Redis url {_hide(url)!r} sets TLS options but is not rediss://"
            )
        self.db = _number(url, "db", lambda: int(db or 0))
        self.username = unquote(parts.username) if parts.username else None
        self.username = query.get("username", self.username)
        self.password = unquote(parts.password) if parts.password else None
        self.password = query.get("password", self.password)
        limit = query.get("max_connections", str(MAX_CONNECTIONS))
        self.max_connections = _number(url, "max_connections", lambda: int(limit))
        if self.max_connections < 1:
            raise ValueError(f"max_connections must be at least 1 in {_hide(url)!r}")

    @property
    def tls(self) -> bool:
        """Whether connections speak TLS (a ``rediss://`` url)."""
        return self.ssl_context is not None

    @property
    def location(self) -> str:
        """``host:port`` or the socket path, without credentials: for messages."""
        return self.path if self.path is not None else f"{self.host}:{self.port}"

    def handshake(self) -> list[tuple[Any, ...]]:
        """The commands a new connection sends first (AUTH, SELECT), maybe none."""
        commands: list[tuple[Any, ...]] = []
        if self.password is not None:
            user = () if self.username is None else (self.username,)
            commands.append(("AUTH", *user, self.password))
        if self.db:
            commands.append(("SELECT", self.db))
        return commands


def _tls_context(url: str, query: dict[str, str]) -> ssl.SSLContext:
    reqs = query.get("ssl_cert_reqs", "required").lower()
    if reqs not in _CERT_REQS:
        raise ValueError(
            f"ssl_cert_reqs must be one of {sorted(_CERT_REQS)} in {_hide(url)!r}, got {reqs!r}"
        )
    verify = _CERT_REQS[reqs] != ssl.CERT_NONE
    check = query.get("ssl_check_hostname", "true" if verify else "false").lower()
    if check not in _BOOLEANS:
        raise ValueError(
            f"ssl_check_hostname must be true or false in {_hide(url)!r}, got {check!r}"
        )
    certfile, keyfile = query.get("ssl_certfile"), query.get("ssl_keyfile")
    if keyfile and not certfile:
        raise ValueError(f"ssl_keyfile needs ssl_certfile in {_hide(url)!r}")
    try:
        context = ssl.create_default_context(cafile=query.get("ssl_ca_certs"))
        context.check_hostname = verify and _BOOLEANS[check]
        context.verify_mode = _CERT_REQS[reqs]
        if certfile:
            context.load_cert_chain(certfile, keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"cannot read the TLS files of the Redis url {_hide(url)!r}: {exc}"
        ) from exc
    return context


def _number(url: str, what: str, read: Any) -> int:
    try:
        return int(read())
    except ValueError:
        raise ValueError(f"bad {what} in the Redis url {_hide(url)!r}") from None


def _hide(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
