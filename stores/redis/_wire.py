"""RESP, the Redis wire protocol: commands packed here, replies parsed by hiredis.

``pack_commands`` turns command tuples into one buffer (a pipeline is the
commands back to back); ``Packed`` is a command already in RESP, sent as
it is. Replies are parsed by ``hiredis.Reader`` (see ``_transport``): an
error reply comes back as a ``ReplyError`` in its place, never raised by
the parser, so one refused command does not hide its neighbours' replies.
``Script`` is a Lua script sent by SHA. Nothing here does I/O.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from collections.abc import Sequence


class RedisError(Exception):
    """Base of what the Redis transport raises; translated at the stores boundary."""


class ReplyError(RedisError):
    """An error reply (``ERR ...``, ``NOSCRIPT ...``, ``WRONGTYPE ...``): Redis refused a command."""

    @property
    def code(self) -> str:
        """The first word of the reply: ``ERR``, ``NOSCRIPT``, ``WRONGTYPE``..."""
        return str(self).partition(" ")[0]


class ProtocolError(RedisError):
    """The server sent bytes that are not RESP: the connection is dropped."""


class DataError(TypeError):
    """An argument that Redis cannot take (a bool, None, a list): a bug in the caller."""


class Script:
    """A Lua script sent by SHA (EVALSHA), its body kept to reload it after a restart."""

    __slots__ = ("body", "load", "sha")

    def __init__(self, body: str) -> None:
        self.body = body
        # Redis names scripts by SHA1
        self.sha = hashlib.sha1(body.encode()).hexdigest()
        self.load: tuple[str, ...] = ("SCRIPT", "LOAD", body)

    def command(
        self, keys: Sequence[str | bytes], args: Sequence[Any]
    ) -> tuple[Any, ...]:
        """The EVALSHA command tuple for a pipeline."""
        return ("EVALSHA", self.sha, len(keys), *keys, *args)


def is_noscript(reply: object) -> bool:
    """Whether ``reply`` says the script it called is not loaded (a restarted or flushed server)."""
    return isinstance(reply, ReplyError) and str(reply).startswith("NOSCRIPT")


def _arg(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):  # str enums too
        return value.encode()
    if isinstance(value, int | float):
        if isinstance(value, bool):
            raise DataError(
                f"cannot send a bool to Redis ({value!r}); send 0/1 or a string"
            )
        return repr(value).encode()
    if isinstance(value, memoryview | bytearray):
        return bytes(cast("memoryview | bytearray", value))
    raise DataError(
        f"cannot send a {type(value).__name__} to Redis; send bytes, str, int or float"
    )


class Packed(bytes):
    """One command already in RESP (see ``pack_args``): sent as it is."""

    __slots__ = ()


def pack_args(args: Sequence[Any]) -> bytes:
    """The RESP bulk strings of ``args``, without the array header.

    For commands whose fixed parts are packed once and joined with the
    parts that change (``Packed``).
    """
    return pack_commands([tuple(args)]).split(b"\r\n", 1)[1]


def pack_commands(commands: Sequence[tuple[Any, ...] | Packed]) -> bytes:
    """The RESP bytes of ``commands``, in one buffer.

    Half the CPU of redis-py's ``pack_commands`` for the short commands of
    a turn: no per-argument encoder lookup, no chunking. A ``Packed``
    command goes out as it is.

    Raises:
        DataError: for an argument that is not bytes, str, int or float.
    """
    out: list[bytes] = []
    append = out.append
    for command in commands:
        if type(command) is Packed:
            append(command)
            continue
        append(b"*%d\r\n" % len(command))
        for value in command:
            data = (
                value
                if type(value) is bytes
                else value.encode()
                if type(value) is str
                else b"%d" % value  # the same bytes as repr(value).encode()
                if type(value) is int
                else _arg(value)
            )
            append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(out)
